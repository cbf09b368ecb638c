"""Composition of the screening area: the engine's configuration and folders from the settings,
an engine on the published snapshot, its SIP and HTTP faces, snapshots built from files, and
the decision log. Screening itself takes plain values; this is where settings become them."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import structlog

from telshield.domain.alerts import Tier
from telshield.domain.errors import InvalidInput
from telshield.screening.decisionlog import (
    DecisionRecord,
    JsonLinesDecisionLog,
    find_decision,
    read_decisions,
)
from telshield.screening.engine import Decision, Engine, EngineConfig, new_node
from telshield.screening.follow import SnapshotFollower
from telshield.screening.http import ScreeningApp
from telshield.screening.numbering import PlanTuple
from telshield.screening.publish import publish
from telshield.screening.snapshot import Outcome, Snapshot, SnapshotInput
from telshield.screening.velocity import VelocityLimits
from telshield.settings import ScreeningSettings, Settings
from telshield.wiring.process import settle

if TYPE_CHECKING:  # the disposal area is loaded only where redress is composed
    from telshield.services.redress import RedressService
    from telshield.wiring.disposal import Disposal

log = structlog.get_logger(__name__)
# Set by `screen http --workers N` (N > 1) for its workers: where they claim an index and
# keep their inboxes (screening.passon).
HTTP_RUN_DIR = "TELSHIELD_SCREENING_HTTP_RUN_DIR"


def snapshot_dir(settings: Settings) -> Path:
    """Where snapshots are published (versions and the pointer to the current one)."""
    return settings.screening.snapshot_dir or settings.data_dir / "screening" / "snapshot"


def log_dir(settings: Settings) -> Path:
    """Where the decision log is written."""
    return settings.screening.log_dir or settings.data_dir / "screening" / "decisions"


def redress_uri(settings: Settings) -> str:
    """The appeal link a 608 carries (``?decision=<id>`` is added): the setting, else the
    API's ``POST /v1/appeals``."""
    return settings.screening.redress_uri or \
        f"http://{settings.api.host}:{settings.api.port}/v1/appeals"


def engine_config(s: ScreeningSettings) -> EngineConfig:
    """The engine's configuration from the screening settings."""
    try:
        tiers = {
            Tier.WATCH: Outcome(s.tier_watch),
            Tier.VERIFY: Outcome(s.tier_verify),
            Tier.SUSPEND: Outcome(s.tier_suspend),
        }
        wrong_carrier = Outcome(s.wrong_carrier)
    except ValueError as e:
        raise InvalidInput(
            f"screening tier or wrong_carrier outcome: {e}; use one of "
            f"{[o.value for o in Outcome]}") from None
    limits = VelocityLimits(
        label_calls_per_minute=s.label_calls_per_minute,
        reject_calls_per_minute=s.reject_calls_per_minute,
        label_callees_per_minute=s.label_callees_per_minute,
        reject_callees_per_minute=s.reject_callees_per_minute,
        label_calls_per_hour=s.label_calls_per_hour,
        reject_calls_per_hour=s.reject_calls_per_hour,
        label_callees_per_hour=s.label_callees_per_hour,
        reject_callees_per_hour=s.reject_callees_per_hour,
        max_callers=s.max_tracked_callers,
        max_pairs=s.max_tracked_pairs,
    )
    return EngineConfig(
        max_age_s=s.max_age_s,
        fail_open=s.fail_open,
        tier_outcomes=tiers,
        wrong_carrier=wrong_carrier,
        velocity=limits,
        log_allowed=s.log_allowed,
    )


def open_engine(settings: Settings, *, with_log: bool = True) -> tuple[Engine, SnapshotFollower]:
    """An engine on the current published snapshot (if any), with its decision log, and the
    follower that keeps it on the published one."""
    s = settings.screening
    node = new_node()
    sink = JsonLinesDecisionLog(log_dir(settings), max_bytes=s.log_max_bytes, node=node) \
        if with_log else None
    engine = Engine(engine_config(s), decision_log=sink, node=node)
    follower = SnapshotFollower(engine, snapshot_dir(settings), s.reload_s,
                                s.location_updates_s)
    follower.check()
    if engine.snapshot is None:
        log.warning("screening.no_snapshot", directory=str(snapshot_dir(settings)),
                    fail_open=s.fail_open)
    return engine, follower


def decide(settings: Settings, caller: str, callee: str, ingress: str,
           caller_imei: str | None, carrier: str | None = None) -> Decision:
    """Decide one call against the current snapshot (not logged; velocity starts empty)."""
    engine, _ = open_engine(settings, with_log=False)
    return engine.decide(caller, callee, ingress, caller_imei=caller_imei, carrier=carrier)


async def run_sip(settings: Settings, host: str, port: int,
                  say: Callable[[str], None] = lambda _: None) -> None:
    """The SIP face in this process, following the published snapshot, until cancelled,
    SIGTERM or Ctrl-C (then its decision log is flushed). Several: ``run_sip_workers``."""
    from telshield.screening.faces import run_sip as run
    from telshield.screening.sip import RedirectServer, parse_peers
    from telshield.wiring.screening_workers import until_signalled

    s = settings.screening
    try:
        parse_peers(s.sip_peers)
    except ValueError as e:
        raise InvalidInput(f"screening.sip_peers: {e}") from None
    engine, follower = open_engine(settings)
    server = RedirectServer(engine, default_ingress=s.default_ingress, peers=s.sip_peers,
                            redress_uri=redress_uri(settings), trunk_carriers=s.trunk_carriers)
    settle()
    await until_signalled(run(server, follower, host=host, port=port,
                              metrics_port=s.sip_metrics_port, say=say))


def check_http(settings: Settings) -> None:
    """Refuse an HTTP face without a token unless it was allowed to be open (InvalidInput)."""
    s = settings.screening
    if not s.http_token.get_secret_value() and not s.http_allow_open:
        raise InvalidInput(
            "the screening HTTP face has no token: set screening.http_token (env "
            "TELSHIELD_SCREENING__HTTP_TOKEN) for the switch to present, or start it open on "
            "purpose with --allow-open (screening.http_allow_open = true)")


def http_app(settings: Settings) -> ScreeningApp:
    """The HTTP face over an engine following the published snapshot."""
    check_http(settings)
    s = settings.screening
    engine, follower = open_engine(settings)
    run_dir = os.environ.get(HTTP_RUN_DIR)
    passon = None
    if run_dir and s.http_workers > 1:
        from telshield.wiring.screening_workers import http_passon

        passon = http_passon(engine, Path(run_dir), s.http_workers)
    return ScreeningApp(engine, token=s.http_token.get_secret_value(), follower=follower,
                        allow_open=s.http_allow_open, passon=passon)


def http_app_from_environment() -> ScreeningApp:
    """The HTTP face from settings in the environment and the TOML file named by
    TELSHIELD_CONFIG (the factory the HTTP server's worker processes call)."""
    from telshield.settings import load_settings

    config = os.environ.get("TELSHIELD_CONFIG")
    app = http_app(load_settings(Path(config) if config else None))
    settle()
    return app


def screening_plan(settings: Settings) -> tuple[PlanTuple, ...]:
    """The project's numbering plan (built once, cached in the data directory), reduced to
    what the engine reads: kind, and whether ours."""
    from telshield.domain.numbers import NumberKind, Operator, PlanRow
    from telshield.reference.numbering import load_plan_table
    from telshield.screening.numbering import plan_tuples

    table = load_plan_table(settings.data_dir)
    cols = [table[c].to_pylist() for c in ("prefix", "length", "kind", "operator", "province")]
    rows = (PlanRow(p, n, NumberKind(k), Operator(o), pv)
            for p, n, k, o, pv in zip(*cols, strict=True))
    s = settings.screening
    return tuple(plan_tuples(rows, Operator(s.own_operator), s.own_province or None))


@dataclass(frozen=True)
class Built:
    """What ``build_from_csv`` published."""

    version: str
    directory: Path
    data: SnapshotInput
    numbers: int
    build_seconds: float
    memory_bytes: int


def build_from_csv(
    settings: Settings, *, lists: Path | None = None, warnings: Path | None = None,
    protected: Path | None = None, risk_prefixes: Path | None = None,
    devices: Path | None = None, roaming: Path | None = None, ported: Path | None = None,
    version: str = "", device_intel: bool = True,
) -> Built:
    """A snapshot from CSV files, the numbering plan and (``device_intel``) the GOIP and
    SIM-bank TACs of the lake's device_intel feed, proven to build, then published."""
    from telshield.feeds.lake import Lake
    from telshield.reference.schemas import FEEDS
    from telshield.screening.files import barred_tacs_from_parquet, input_from_csv

    data = input_from_csv(  # read and check the files first: the plan takes seconds
        lists=lists, warnings=warnings, protected=protected, risk_prefixes=risk_prefixes,
        devices=devices, roaming=roaming, ported=ported, version=version,
    )
    tacs = (barred_tacs_from_parquet(Lake(settings.lake_dir).files(FEEDS["device_intel"]))
            if device_intel else ())
    data = replace(data, plan=screening_plan(settings), barred_tacs=tacs, as_of=time.time())
    snap = Snapshot.build(data)  # proves it builds before the faces see it
    target = snapshot_dir(settings)
    name = publish(data, target, keep=settings.screening.snapshot_keep)
    return Built(name, target, data, len(snap), snap.build_seconds, snap.memory_bytes())


def decisions(settings: Settings) -> Iterator[DecisionRecord]:
    """Every logged decision, oldest file first."""
    return read_decisions(log_dir(settings))


def decision_finder(settings: Settings) -> Callable[[str], DecisionRecord]:
    """Finds a logged decision by its id (NotFound when it was not logged)."""
    directory = log_dir(settings)
    return lambda decision_id: find_decision(directory, decision_id)


@dataclass(frozen=True)
class Redress:
    """Appeals against screening decisions: the decision log to find them in, and the
    service that files them."""

    find: Callable[[str], DecisionRecord]
    service: RedressService


def redress(settings: Settings, d: Disposal) -> Redress:
    """Redress over the decision log the settings name and the disposal services."""
    from telshield.services.redress import RedressService

    return Redress(decision_finder(settings),
                   RedressService(d.store, d.cases.clock, d.cases, d.lists))


def journal_location_updates(settings: Settings, source: Path | None) -> int:
    """Append location updates in the roaming feed's shape (CSV with a header naming at least
    msisdn, at (feed time, China Standard Time) and event) from ``source`` (None: standard
    input) to the journal the faces follow. A bad row stops everything before any is journaled,
    naming its line and field. Returns how many were journaled."""
    import csv
    import sys

    from telshield.domain.clock import feed_epoch
    from telshield.screening.roaming import LocationJournal, Updates

    where = str(source) if source is not None else "standard input"
    with contextlib.ExitStack() as stack:
        handle: IO[str] = sys.stdin if source is None else stack.enter_context(
            source.open(newline="", encoding="utf-8"))
        reader = csv.DictReader(handle)
        missing = {"msisdn", "at", "event"} - set(reader.fieldnames or ())
        if missing:
            raise InvalidInput(f"{where}: the header lacks {sorted(missing)}: send the roaming "
                               "feed's columns (msisdn, at, visited_country, visited_network, "
                               "event)")
        msisdns: list[str] = []
        events: list[str] = []
        ats: list[float] = []
        for row in reader:
            line = reader.line_num
            try:
                at = datetime.strptime((row["at"] or "").strip(), "%Y-%m-%d %H:%M:%S")
            except ValueError:
                raise InvalidInput(f"{where}, line {line}, field at: {row['at']!r} is not "
                                   "'YYYY-MM-DD HH:MM:SS' (feed time, China Standard Time)"
                                   ) from None
            msisdns.append((row["msisdn"] or "").strip())
            events.append((row["event"] or "").strip())
            ats.append(feed_epoch(at))
    updates = Updates.of(msisdns, events, ats, where=f"{where}, data row")
    return LocationJournal(snapshot_dir(settings)).append(updates)
