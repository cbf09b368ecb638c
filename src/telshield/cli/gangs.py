"""``telshield gangs``: card-trafficking gangs (开卡贩卡团伙) found in the registration graph, and
``telshield evaluate gangs`` against the simulator's truth."""

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
    whole,
)
from telshield.cli.users import ActorOption, default_actor
from telshield.domain.cases import parse_action
from telshield.domain.gangs import Gang, gang_ref, parse_gang_ref
from telshield.domain.paging import Page
from telshield.services.gangs import GangService

console = Console()
gangs_app = command_group(
    help="Card-trafficking gangs (开卡贩卡团伙): find, show, export, dispose.",
    no_args_is_help=True)


def _service(config: Path | None, data_dir: Path | None, engine: str | None = "duckdb"
             ) -> GangService:
    """The gang service; ``engine`` runs ``find``'s link table (None: ``[engine] name``). The
    other commands read the store, on DuckDB."""
    from telshield import wiring
    from telshield.wiring.gangs import gangs

    settings = existing_data(config, data_dir)
    return gangs(settings, wiring.open_store(settings), engine=engine)


def _gangs_table(items: list[Gang]) -> None:
    t = table(whole("gang"), "score", "cards", "IDs", "cards/ID in days", "across IDs",
              "flagged", "staff IDs", "updated")
    for g in items:
        s = g.signals
        staff = list(g.evidence.get("staff_ids", g.staff_ids))
        t.add_row(gang_ref(int(g.id or 0)), f"{g.score:.2f}", str(s.cards), str(s.ids),
                  f"{s.bulk_share:.0%}", f"{s.cross_share:.0%}", f"{s.flagged_share:.0%}",
                  ", ".join(staff[:3]) + (" …" if len(staff) > 3 else ""),
                  f"{g.updated_at:%Y-%m-%d %H:%M}")
    console.print(t)


@gangs_app.command("find")
def find_cmd(
    since: Annotated[str, typer.Option(help="Cards registered from (CST) [default: the "
                                       "last [gangs] lookback_days of the feed].")] = "",
    actor: ActorOption = "", engine: EngineOption = None, data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Find gangs among recent registrations and store them (a gang found again is updated)."""
    r = _service(config, data_dir, engine).find(actor=actor or default_actor(),
                                        since=feed_time("--since", since))
    console.print(f"cards registered {r.since:%Y-%m-%d %H:%M} .. {r.until:%Y-%m-%d %H:%M}: "
                  f"{r.cards:,} linked by {r.links:,} links into {r.communities:,} communities; "
                  f"{len(r.gangs)} gang(s): {r.new} new, {r.updated} updated")
    if r.gangs:
        _gangs_table(list(r.gangs))


@gangs_app.command("list")
def list_cmd(
    min_score: Annotated[float, typer.Option(help="Only gangs scoring at least this.")] = 0.0,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """Stored gangs, highest score first."""
    _gangs_table(_service(config, data_dir).list(min_score=min_score, page=Page(limit=limit)))


@gangs_app.command("show")
def show_cmd(gang: str, data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """One gang: its evidence and member cards."""
    g = _service(config, data_dir).get(parse_gang_ref(gang))
    _gangs_table([g])
    console.print(f"channels: {', '.join(g.channels)}")
    console.print(f"staff IDs: {', '.join(g.staff_ids) or 'none (e-channel orders only)'}")
    console.print("links: " + ", ".join(f"{k} {n}" for k, n in g.link_counts.items()))
    t = table(whole("number"), "ID hash", "channel", "staff ID", "registered (CST)", "linked by",
              "flags")
    for m in g.members:
        t.add_row(m.msisdn, m.id_hash[:12] + "…", m.channel_id, m.staff_id,
                  f"{m.registered_at:%Y-%m-%d %H:%M}", ", ".join(m.links), ", ".join(m.flags))
    console.print(t)


@gangs_app.command("export")
def export_cmd(
    gang: str,
    fmt: Annotated[str, typer.Option("--format", help="json, csv or graphml.")] = "json",
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """A gang for the police: JSON (the case), CSV (its cards) or GraphML (cards and links)."""
    from telshield.services.gangs_export import export

    emit(export(_service(config, data_dir).get(parse_gang_ref(gang)), fmt), out, console)


@gangs_app.command("dispose")
def dispose_cmd(
    gang: str,
    action: Annotated[str, typer.Argument(help="verify, restrict, suspend, release, confirm.")],
    reason: Annotated[str, typer.Option(help="Why (told to every user).")],
    actor: ActorOption = "", data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """Dispose of every card of a gang in one action (all or none)."""
    gid = parse_gang_ref(gang)
    r = _service(config, data_dir).dispose(gid, parse_action(action),
                                           actor=actor or default_actor(), reason=reason)
    console.print(f"{gang_ref(gid)} {r.action.value}: {r.moved} moved ({r.opened} new cases), "
                  f"{r.unchanged} already {r.action.target.value}")


def evaluate_gangs_cmd(
    world: Annotated[Path, typer.Option(help="Folder written by `telshield world generate`.",
                                        exists=True, file_okay=False)],
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Use this data directory's store (e.g. after `telshield detect` on "
        "the world, for its alerts); default: an empty store, registration signals alone.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Gangs recovered, member precision and colluding staff in the top 10, against truth."""
    from telshield import wiring
    from telshield.evaluate.gangs import judge, read_truth
    from telshield.wiring.gangs import gangs

    truth = read_truth(world)
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from(config, data_dir or Path(tmp))
        store = wiring.open_store(settings)
        svc = gangs(settings, store, lake=world, with_cases=False)
        r = svc.find(actor="evaluate")
        found = [svc.get(int(g.id or 0)) for g in r.gangs]
        store_dispose = getattr(store, "dispose", None)
        if store_dispose is not None:
            store_dispose()
    rep = judge(found, truth)
    console.print(f"[bold]gangs[/] {world}: cards {r.since:%Y-%m-%d} .. {r.until:%Y-%m-%d}, "
                  f"{r.cards:,} linked cards, {r.communities:,} communities")
    t = table("metric", "value")
    t.add_row("gangs recovered (a found gang holds > half its cards)",
              f"{rep.recovered_share:.1%} ({rep.recovered}/{rep.true_gangs})")
    t.add_row("member precision",
              f"{rep.member_precision:.3f} ({rep.cards_recalled}/{rep.cards_found})")
    t.add_row("gang cards in found gangs", f"{rep.cards_recalled}/{rep.true_cards}")
    t.add_row("found gangs", str(rep.found_gangs))
    t.add_row("top-10 staff IDs that collude", f"{rep.colluding_in_top}/{len(rep.top_staff)}")
    t.add_row("colluding staff IDs in the top 10", f"{rep.staff_in_top}/{rep.staff_judged}")
    console.print(t)
    s = table("staff ID", "found gang cards", "colluding")
    for sid, n, bad in rep.top_staff:
        s.add_row(sid, str(n), "yes" if bad else "no")
    console.print(s)


def register(app: typer.Typer) -> None:
    """Add ``telshield gangs`` and ``telshield evaluate gangs``."""
    from telshield.cli.evaluate import evaluate_app

    evaluate_app.command("gangs")(evaluate_gangs_cmd)
    app.add_typer(gangs_app, name="gangs")
