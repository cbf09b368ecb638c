"""``telshield screen``: build the screening snapshot, serve SIP and HTTP, decide one call,
and summarise the decision log."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from telshield.cli.common import ConfigOption, DataDirOption, settings_from
from telshield.settings import Settings

if TYPE_CHECKING:
    from telshield.screening.engine import Engine
    from telshield.screening.numbering import PlanTuple

console = Console()
screen_app = typer.Typer(help="Real-time call screening: snapshot, SIP and HTTP faces, decisions.")

CsvOption = Annotated[Path | None, typer.Option(exists=True, dir_okay=False)]


def _engine(settings: Settings, *, with_log: bool = True) -> Engine:
    from telshield.screening.runtime import open_engine

    return open_engine(settings, with_log=with_log)


def _plan(settings: Settings) -> tuple[PlanTuple, ...]:
    """The project's numbering plan (built once, cached in the data directory) for screening."""
    from telshield.domain.numbers import NumberKind, Operator, PlanRow
    from telshield.feeds.numbering import load_plan_table
    from telshield.screening.numbering import plan_tuples

    table = load_plan_table(settings.data_dir)
    cols = [table[c].to_pylist() for c in ("prefix", "length", "kind", "operator", "province")]
    rows = (
        PlanRow(p, n, NumberKind(k), Operator(o), pv)
        for p, n, k, o, pv in zip(*cols, strict=True)
    )
    s = settings.screening
    return tuple(plan_tuples(rows, Operator(s.own_operator), s.own_province or None))


@screen_app.command("build")
def build_cmd(
    lists: CsvOption = None,
    warnings: CsvOption = None,
    protected: CsvOption = None,
    risk_prefixes: CsvOption = None,
    devices: CsvOption = None,
    version: Annotated[str, typer.Option(help="A name for this snapshot (default: now).")] = "",
    device_intel: Annotated[bool, typer.Option(
        help="Bar calls from the GOIP / SIM-bank TACs in the lake's device_intel feed.")] = True,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Build the snapshot input from CSV files (number,colour[,police_ordered] / number,tier /
    number / prefix,outcome,code / imei) and the lake's device_intel feed, and put it where the
    servers pick it up."""
    from telshield.feeds.lake import Lake
    from telshield.feeds.schemas import FEEDS
    from telshield.screening.files import barred_tacs_from_parquet, input_from_csv, save_input
    from telshield.screening.runtime import snapshot_dir
    from telshield.screening.snapshot import Snapshot

    settings = settings_from(config, data_dir)
    data = input_from_csv(  # read and check the files first: the plan takes seconds
        lists=lists, warnings=warnings, protected=protected, risk_prefixes=risk_prefixes,
        devices=devices, version=version,
    )
    tacs = (barred_tacs_from_parquet(Lake(settings.lake_dir).files(FEEDS["device_intel"]))
            if device_intel else ())
    data = dataclasses.replace(data, plan=_plan(settings), barred_tacs=tacs)
    snap = Snapshot.build(data)  # proves it builds before the servers see it
    target = snapshot_dir(settings)
    save_input(data, target)
    console.print(
        f"snapshot [bold]{data.version}[/]: {len(snap):,} numbers, "
        f"{len(data.list_prefixes)} list prefixes, {len(data.risk_prefixes)} risk prefixes, "
        f"{len(data.barred_tacs)} barred device TACs, {len(data.barred_imeis)} barred devices; "
        f"built in {snap.build_seconds:.2f} s, {snap.memory_bytes() / 2**20:.1f} MiB "
        f"-> {target}"
    )


@screen_app.command("decide")
def decide_cmd(
    caller: Annotated[str, typer.Argument(help="Calling number as presented (E.164 digits).")],
    callee: Annotated[str, typer.Argument(help="Called number.")],
    ingress: Annotated[str, typer.Option(help="radio, interconnect or international.")] = (
        "interconnect"
    ),
    caller_imei: Annotated[str | None, typer.Option(
        help="The caller's IMEI (radio-originated calls): the device-class rule applies.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Decide one call against the current snapshot (not logged; velocity starts empty)."""
    engine = _engine(settings_from(config, data_dir), with_log=False)
    d = engine.decide(caller.lstrip("+"), callee.lstrip("+"), ingress, caller_imei=caller_imei)
    console.print(f"{d.outcome.value}  reasons={','.join(d.reasons) or '-'}  id={d.id}")


@screen_app.command("sip")
def sip_cmd(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="UDP port.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the SIP redirect face (UDP) until interrupted."""
    settings = settings_from(config, data_dir)
    s = settings.screening
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_sip(settings, host or s.sip_host, s.sip_port if port is None else port))


async def _serve_sip(settings: Settings, host: str, port: int) -> None:
    from telshield.screening.runtime import SnapshotReloader, flush_forever, snapshot_dir
    from telshield.screening.sip import RedirectServer, serve_sip

    engine = _engine(settings)
    s = settings.screening
    server = RedirectServer(engine, default_ingress=s.default_ingress, redress_uri=s.redress_uri)
    transport, _ = await serve_sip(server, host, port)
    reloader = SnapshotReloader(engine, snapshot_dir(settings), s.reload_s)
    console.print(f"SIP redirect server on udp://{host}:{port} (Ctrl-C stops)")
    if s.sip_metrics_port:
        from prometheus_client import start_http_server

        from telshield.screening.metrics import registry_for

        registry = registry_for(engine, server.stats)
        start_http_server(s.sip_metrics_port, addr=host, registry=registry)
        console.print(f"metrics on http://{host}:{s.sip_metrics_port}/metrics")
    try:
        await asyncio.gather(reloader.run(), flush_forever(engine))
    finally:
        transport.close()
        if engine.decision_log is not None:
            engine.decision_log.flush()


@screen_app.command("http")
def http_cmd(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the HTTP decision API on granian until interrupted."""
    import os

    from granian import Granian
    from granian.constants import Interfaces

    settings = settings_from(config, data_dir)
    s = settings.screening
    # Workers are fresh processes: they read settings from the environment (and the file).
    os.environ["TELSHIELD_DATA_DIR"] = str(settings.data_dir)
    if config is not None:
        os.environ["TELSHIELD_CONFIG"] = str(config.resolve())
    Granian(
        "telshield.screening.http:create_app",
        address=host or s.http_host,
        port=s.http_port if port is None else port,
        interface=Interfaces.ASGI,
        workers=workers or s.http_workers,
        factory=True,
        log_access=False,
    ).serve()


@screen_app.command("log")
def log_cmd(
    since: Annotated[
        float, typer.Option(help="Only decisions at or after this epoch second.")
    ] = 0.0,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Summarise the decision log: decisions by outcome and by reason."""
    from telshield.screening.decisionlog import read_decisions
    from telshield.screening.runtime import log_dir

    settings = settings_from(config, data_dir)
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    first = last = 0.0
    for r in read_decisions(log_dir(settings)):
        if r.at < since:
            continue
        outcomes[r.outcome] += 1
        reasons.update(r.reasons)
        first = r.at if not first else min(first, r.at)
        last = max(last, r.at)
    span = f" {time.ctime(first)} .. {time.ctime(last)}" if last else ""
    t = Table(title="decision log" + span)
    t.add_column("outcome / reason")
    t.add_column("decisions", justify="right")
    for k, n in outcomes.most_common():
        t.add_row(f"[bold]{k}[/]", f"{n:,}")
    for k, n in reasons.most_common():
        t.add_row(f"  {k}", f"{n:,}")
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add ``telshield screen ...`` to the CLI."""
    app.add_typer(screen_app, name="screen")
