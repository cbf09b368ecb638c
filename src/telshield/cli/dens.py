"""``telshield dens``: GOIP dens (窝点) found in the call records, and ``telshield evaluate dens``
against the simulator's truth."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    EngineOption,
    command_group,
    emit,
    existing_data,
    feed_time,
    settings_from,
    table,
)
from telshield.cli.users import ActorOption, default_actor
from telshield.domain.cases import parse_action
from telshield.domain.dens import Den, den_ref, parse_den_ref
from telshield.domain.paging import Page
from telshield.services.dens import DenService

console = Console()
dens_app = command_group(help="GOIP dens (窝点): find, list, show, export, dispose.",
                       no_args_is_help=True)


def _service(config: Path | None, data_dir: Path | None, engine: str | None = "duckdb"
             ) -> DenService:
    """The den service; ``engine`` runs ``find``'s lake queries (None: ``[engine] name``). The
    other commands read the store and a few lake rows, on DuckDB."""
    from telshield import wiring
    from telshield.wiring.dens import dens

    settings = existing_data(config, data_dir)
    return dens(settings, wiring.open_store(settings), engine=engine)


def _dens_table(items: list[Den]) -> None:
    t = table("den", "kind", "confidence", "county", "lat, lon", "radius km", "SIMs",
              "ports", "first seen", "last seen")
    for d in items:
        e = d.evidence
        t.add_row(den_ref(int(d.id or 0)), d.kind, f"{d.confidence:.2f}", d.county,
                  f"{d.lat:.5f}, {d.lon:.5f}", f"{d.radius_km:.2f}", str(e.get("sims", "")),
                  str(e.get("ports_parallel", "")), f"{d.first_seen:%Y-%m-%d %H:%M}",
                  f"{d.last_seen:%Y-%m-%d %H:%M}")
    console.print(t)


@dens_app.command("find")
def find_cmd(
    since: Annotated[str, typer.Option(help="Calls from (CST) [default: the last [dens] "
                                       "lookback_hours of the feed].")] = "",
    until: Annotated[str, typer.Option(help="Calls before (CST) [default: the feed's end].")
                     ] = "",
    actor: ActorOption = "", engine: EngineOption = None, data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Find dens in recent calls and store them (a den found again is updated)."""
    r = _service(config, data_dir, engine).find(actor=actor or default_actor(),
                                        since=feed_time("--since", since),
                                        until=feed_time("--until", until))
    console.print(f"calls {r.since:%Y-%m-%d %H:%M} .. {r.until:%Y-%m-%d %H:%M}: {r.ports:,} "
                  f"one-way callers; {len(r.dens)} den(s): {r.new} new, {r.updated} updated")
    if r.dens:
        _dens_table(list(r.dens))


@dens_app.command("list")
def list_cmd(
    min_confidence: Annotated[float, typer.Option(help="Only dens at least this sure.")] = 0.0,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """Stored dens, most confident first."""
    _dens_table(_service(config, data_dir).list(min_confidence=min_confidence,
                                                page=Page(limit=limit)))


@dens_app.command("show")
def show_cmd(den: str, data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """One den: its place, evidence and numbers over time."""
    d = _service(config, data_dir).get(parse_den_ref(den))
    _dens_table([d])
    console.print(f"cells: {', '.join(d.cells)}")
    console.print("signals: " + ", ".join(f"{k} {v}" for k, v in
                                          d.evidence.get("signals", {}).items()))
    console.print(f"IMEIs: {', '.join(d.imeis) or 'none'}")
    t = table("number", "role", "IMEI", "cell", "first call", "last call", "calls")
    for m in d.members:
        t.add_row(m.msisdn, m.role, m.imei, m.cell, f"{m.first_at:%Y-%m-%d %H:%M}",
                  f"{m.last_at:%Y-%m-%d %H:%M}", str(m.calls))
    console.print(t)


@dens_app.command("export")
def export_cmd(
    den: str,
    fmt: Annotated[str, typer.Option("--format", help="json, csv, text or html.")] = "json",
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """A den for the police: JSON (the case), CSV (its numbers) or a report (text or HTML)."""
    from telshield.services.dens_export import export

    emit(export(_service(config, data_dir).get(parse_den_ref(den)), fmt), out, console)


@dens_app.command("dispose")
def dispose_cmd(
    den: str,
    action: Annotated[str, typer.Argument(help="verify, restrict, suspend, release, confirm.")],
    reason: Annotated[str, typer.Option(help="Why (told to every user).")],
    actor: ActorOption = "", data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """Dispose of every number of a den that is ours in one action (all or none)."""
    did = parse_den_ref(den)
    r, others = _service(config, data_dir).dispose(did, parse_action(action),
                                                   actor=actor or default_actor(), reason=reason)
    console.print(f"{den_ref(did)} {r.action.value}: {r.moved} moved ({r.opened} new cases), "
                  f"{r.unchanged} already {r.action.target.value}")
    if others:
        console.print(f"{len(others)} number(s) of other operators, for the police: "
                      + ", ".join(others))


def evaluate_dens_cmd(
    world: Annotated[Path, typer.Option(help="Folder written by `telshield world generate`.",
                                        exists=True, file_okay=False)],
    step_hours: Annotated[int, typer.Option(help="Run the finder this often.", min=1)] = 6,
    engine: EngineOption = None, config: ConfigOption = None,
) -> None:
    """Dens found within 24 h, location error and member recall/precision, against truth."""
    from telshield.cli.dens_evaluate import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        rep = evaluate(settings_from(config, Path(tmp)), world, step_hours, engine)
    console.print(f"[bold]dens[/] {world}: {rep.found_dens} stored den(s), run every "
                  f"{step_hours} h")
    t = table("metric", "value", "bar")
    n = sum(1 for d in rep.per_den if d.first_call is not None)
    ok = sum(1 for d in rep.per_den if d.found_after_h is not None and d.found_after_h <= 24)
    t.add_row("dens found within 24 h of their first call", f"{rep.within_24h:.1%} ({ok}/{n})",
              ">= 95%")
    t.add_row("median location error (km)", f"{rep.median_error_km:.2f}", "<= 1")
    t.add_row("member recall", f"{rep.recall:.3f} (of {rep.members_true})", ">= 0.90")
    t.add_row("member precision", f"{rep.precision:.3f} (of {rep.members_found})", ">= 0.90")
    console.print(t)
    s = table("true den", "kind", "numbers", "first call", "found after h", "error km")
    for d in rep.per_den:
        s.add_row(d.den_id, d.kind, str(d.numbers),
                  f"{d.first_call:%m-%d %H:%M}" if d.first_call else "no calls",
                  "-" if d.found_after_h is None else f"{d.found_after_h:.1f}",
                  "-" if d.error_km is None else f"{d.error_km:.2f}")
    console.print(s)


def register(app: typer.Typer) -> None:
    """Add ``telshield dens`` and ``telshield evaluate dens``."""
    from telshield.cli.evaluate import evaluate_app

    evaluate_app.command("dens")(evaluate_dens_cmd)
    app.add_typer(dens_app, name="dens")
