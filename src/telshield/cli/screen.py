"""``telshield screen``: publish a screening snapshot, serve SIP and HTTP (following the
published snapshot), decide one call, and summarise the decision log. Screening is reached
only through ``telshield.wiring.screening``."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    command_group,
    existing_data,
    settings_from,
)
from telshield.domain.errors import InvalidInput
from telshield.settings import Settings

console = Console()
screen_app = command_group(
    help="Real-time call screening: snapshot, SIP and HTTP faces, decisions.")

CsvOption = Annotated[Path | None, typer.Option(exists=True, dir_okay=False)]


@screen_app.command("build")
def build_cmd(
    lists: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False,
        help="Lists: a `telshield lists export` file, or number,colour[,police_ordered].")] = None,
    warnings: CsvOption = None,
    protected: CsvOption = None,
    risk_prefixes: CsvOption = None,
    devices: CsvOption = None,
    roaming: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False,
        help="Our subscribers registered abroad now (msisdn): they may call home over the "
        "international gateway.")] = None,
    ported: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False,
        help="The number-portability database (msisdn, carrier[, ported_at]): a call over "
        "interconnect is checked against the carrier that serves its number.")] = None,
    version: Annotated[str, typer.Option(
        help="A name for this snapshot version (default: made from the time).")] = "",
    device_intel: Annotated[bool, typer.Option(
        help="Bar calls from the GOIP / SIM-bank TACs in the lake's device_intel feed.")] = True,
    from_store: Annotated[bool, typer.Option(
        "--from-store", help="Build from the store (lists in force, open cases, barred "
        "devices) and the lake, as each tick of `telshield run` does, instead of files.")] = False,
    at: Annotated[str | None, typer.Option(
        help="With --from-store: the moment (feed time, CST) to build for; default now.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Build a snapshot from CSV files (lists, number,tier / number / prefix,outcome,code /
    imei / msisdn) and the lake's device_intel feed, or from the store (--from-store), and
    publish it: the SIP and HTTP faces switch to it at their next look."""
    from telshield.wiring import screening

    if from_store:
        if any(x is not None for x in (lists, warnings, protected, risk_prefixes, devices,
                                       roaming, ported)) or version:
            raise InvalidInput("--from-store builds from the store: give no files or --version")
        _from_store(existing_data(config, data_dir), at)
        return
    b = screening.build_from_csv(
        settings_from(config, data_dir), lists=lists, warnings=warnings, protected=protected,
        risk_prefixes=risk_prefixes, devices=devices, roaming=roaming, ported=ported,
        version=version,
        device_intel=device_intel)
    d = b.data
    console.print(
        f"snapshot [bold]{b.version}[/]: {b.numbers:,} numbers, "
        f"{len(d.list_prefixes)} list prefixes, {len(d.risk_prefixes)} risk prefixes, "
        f"{len(d.barred_tacs)} barred device TACs, {len(d.barred_imeis)} barred devices, "
        f"{d.roaming.size} roaming, {d.ported.size:,} ported; built in {b.build_seconds:.2f} s, "
        f"{b.memory_bytes / 2**20:.1f} MiB; published in {b.directory}"
    )


def _from_store(settings: Settings, at: str | None) -> None:
    from datetime import datetime

    from telshield.domain.clock import feed_now
    from telshield.wiring.cycle import publish_from_store
    from telshield.wiring.screening import snapshot_dir

    try:
        moment = datetime.fromisoformat(at.strip()) if at else feed_now()
    except ValueError:
        raise InvalidInput(f"--at {at!r} is not 'YYYY-MM-DD HH:MM[:SS]'") from None
    d = publish_from_store(settings, moment)
    console.print(
        f"snapshot [bold]{d.version}[/] from the store at {moment:%Y-%m-%d %H:%M:%S}: "
        f"{d.list_numbers.size:,} listed numbers, {d.warned.size:,} under warning, "
        f"{d.protected.size:,} protected callees, {len(d.barred_imeis):,} barred devices, "
        f"{len(d.barred_tacs)} barred device TACs, {d.ported.size:,} ported numbers; "
        f"published in {snapshot_dir(settings)}")


@screen_app.command("decide")
def decide_cmd(
    caller: Annotated[str, typer.Argument(help="Calling number as presented (E.164 digits).")],
    callee: Annotated[str, typer.Argument(help="Called number.")],
    ingress: Annotated[str, typer.Option(help="radio, interconnect or international.")] = (
        "interconnect"
    ),
    caller_imei: Annotated[str | None, typer.Option(
        help="The caller's IMEI (radio-originated calls): the device-class rule applies.")] = None,
    carrier: Annotated[str | None, typer.Option(
        help="Interconnect calls: the carrier whose trunk handed it over (china_unicom, "
        "china_telecom, ...): the serving-carrier check applies.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Decide one call against the current snapshot (not logged; velocity starts empty)."""
    from telshield.wiring import screening

    d = screening.decide(settings_from(config, data_dir), caller.lstrip("+"),
                         callee.lstrip("+"), ingress, caller_imei, carrier)
    console.print(f"{d.outcome.value}  reasons={','.join(d.reasons) or '-'}  id={d.id}")


@screen_app.command("location-updates")
def location_updates_cmd(
    source: Annotated[str, typer.Argument(
        help="CSV in the roaming feed's shape (msisdn, at, event, ...), or - for standard "
        "input (a signalling probe can pipe updates as they come).")],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Journal our subscribers' location updates on foreign networks (attach, detach) for the
    running SIP and HTTP faces: within screening.location_updates_s a subscriber who has just
    landed abroad may call home over the international gateway, before the next snapshot."""
    from telshield.wiring import screening

    path = None if source == "-" else Path(source)
    if path is not None and not path.is_file():
        raise InvalidInput(f"{source}: no such file (give a CSV file, or - for standard input)")
    n = screening.journal_location_updates(settings_from(config, data_dir), path)
    console.print(f"journaled {n} location update(s) for the screening faces")


@screen_app.command("sip")
def sip_cmd(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="UDP port.")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes sharing the port (default: screening.sip_workers); each "
        "caller's calls are decided by one of them.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the SIP redirect face (UDP) until interrupted or SIGTERM, following the published
    snapshot."""
    from telshield.cli.common import logging_setup
    from telshield.wiring import screening
    from telshield.wiring.screening_workers import run_sip_workers

    settings = settings_from(config, data_dir)
    s = settings.screening
    n = s.sip_workers if workers is None else workers
    if n != 1:
        run_sip_workers(settings, host or s.sip_host, s.sip_port if port is None else port, n,
                        say=console.print, log_setup=logging_setup())
        return
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(screening.run_sip(settings, host or s.sip_host,
                                      s.sip_port if port is None else port, say=console.print))


@screen_app.command("http")
def http_cmd(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    allow_open: Annotated[bool, typer.Option(
        "--allow-open", help="Serve without a token (refused otherwise); warned in the log "
        "and in the metrics.")] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the HTTP decision API on granian until interrupted, following the published
    snapshot."""
    import os

    from granian import Granian
    from granian.constants import Interfaces

    from telshield.wiring import screening

    settings = settings_from(config, data_dir)
    if allow_open:
        settings = settings.model_copy(update={"screening": settings.screening.model_copy(
            update={"http_allow_open": True})})
    screening.check_http(settings)  # refuse before any worker starts
    s = settings.screening
    # Workers are fresh processes: they read settings from the environment (and the file).
    os.environ["TELSHIELD_DATA_DIR"] = str(settings.data_dir)
    if allow_open:
        os.environ["TELSHIELD_SCREENING__HTTP_ALLOW_OPEN"] = "true"
    if config is not None:
        os.environ["TELSHIELD_CONFIG"] = str(config.resolve())
    n = workers or s.http_workers
    os.environ["TELSHIELD_SCREENING__HTTP_WORKERS"] = str(n)  # each worker's callers' owners
    run_dir = tempfile.mkdtemp(prefix="telshield-http-")
    os.environ[screening.HTTP_RUN_DIR] = run_dir
    try:
        Granian(
            "telshield.wiring.screening:http_app_from_environment",
            address=host or s.http_host,
            port=s.http_port if port is None else port,
            interface=Interfaces.ASGI,
            workers=n,
            factory=True,
            log_access=False,
        ).serve()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


@screen_app.command("log")
def log_cmd(
    since: Annotated[
        float, typer.Option(help="Only decisions at or after this epoch second.")
    ] = 0.0,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Summarise the decision log: decisions by outcome and by reason."""
    from telshield.wiring import screening

    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    first = last = 0.0
    for r in screening.decisions(settings_from(config, data_dir)):
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
