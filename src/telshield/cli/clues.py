"""``telshield clues bundles``: the related numbers each police clue's trace proposed, for an
analyst to confirm (whole or in part) or reject; ``telshield evaluate bundles`` against the
simulator's truth."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    command_group,
    existing_data,
    settings_from,
    table,
)
from telshield.cli.users import ActorOption, default_actor
from telshield.domain.bundles import Bundle, parse_status
from telshield.domain.cases import parse_action
from telshield.domain.paging import Page
from telshield.services.bundles import BundleService

console = Console()
clues_app = command_group(help="Police clues (线索).", no_args_is_help=True)
bundles_app = command_group(
    help="Clue bundles: the numbers a clue's trace ties to it, proposed for disposal.",
    no_args_is_help=True)


def _service(config: Path | None, data_dir: Path | None,
             lake: Path | None = None) -> BundleService:
    from telshield import wiring
    from telshield.wiring.bundles import bundles

    settings = existing_data(config, data_dir)
    return bundles(settings, wiring.disposal(settings, lake=lake), lake=lake)


def _show(b: Bundle) -> None:
    console.print(f"[bold]bundle {b.id}[/] clue {b.clue_id} ({b.case_ref or 'no case ref'}) on "
                  f"{b.msisdn}: {b.status.value}"
                  + (f" by {b.decided_by} at {b.decided_at:%Y-%m-%d %H:%M} ({b.note})"
                     if b.decided_at else ""))
    t = table("number", "strength", "links", "decision", "evidence")
    for m in b.members:
        t.add_row(m.msisdn, f"{m.strength:.2f}", ", ".join(m.kinds), m.decision.value, "; ".join(
            f"{e['kind']} {e['value']}" + (f" via {e['via']}" if e.get("via") else "")
            + f" ({float(e['strength']):.2f})" for e in m.evidence[:3]))
    console.print(t)


@bundles_app.command("list")
def list_cmd(
    status: Annotated[str, typer.Option(help="proposed, confirmed, partly_confirmed or "
                                        "rejected [default: all].")] = "",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """Clue bundles, newest first."""
    got = _service(config, data_dir).list(status=parse_status(status) if status else None,
                                          page=Page(limit=limit))
    t = table("bundle", "clue", "case ref", "number", "members", "status", "created",
              "decided by")
    for b, n in got:
        t.add_row(str(b.id), b.clue_id, b.case_ref, b.msisdn, str(n), b.status.value,
                  f"{b.created_at:%Y-%m-%d %H:%M}", b.decided_by)
    console.print(t)


@bundles_app.command("show")
def show_cmd(bundle: int, data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """One bundle: its members with their links, strengths and evidence."""
    _show(_service(config, data_dir).get(bundle))


@bundles_app.command("propose")
def propose_cmd(
    clue: str,
    lake: Annotated[Path | None, typer.Option(help="Read feeds from this folder instead of "
                                              "the data directory's lake.")] = None,
    actor: ActorOption = "", data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """Trace a clue of the clues feed now and propose its bundle (the stored one if it has)."""
    _show(_service(config, data_dir, lake).propose(clue, actor=actor or default_actor()))


@bundles_app.command("confirm")
def confirm_cmd(
    bundle: int,
    reason: Annotated[str, typer.Option(help="Why (audited, and told to every user).")],
    member: Annotated[list[str] | None, typer.Option(
        "--member", help="Confirm only this member (repeat); the others are rejected "
        "[default: every member].")] = None,
    action: Annotated[str, typer.Option(help="verify, restrict, suspend or confirm.")
                      ] = "verify",
    actor: ActorOption = "", data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """Confirm a bundle and dispose of its chosen numbers that are ours, in one transaction."""
    d = _service(config, data_dir).confirm(bundle, actor=actor or default_actor(),
                                           reason=reason, members=member or None,
                                           kind=parse_action(action))
    console.print(f"bundle {bundle} {d.bundle.status.value}: {len(d.bundle.confirmed)} "
                  "number(s) confirmed")
    if d.disposal is not None:
        r = d.disposal
        console.print(f"{r.action.value}: {r.moved} moved ({r.opened} new cases), "
                      f"{r.unchanged} already {r.action.target.value}")
    if d.others:
        console.print(f"{len(d.others)} number(s) of other operators, for the police: "
                      + ", ".join(d.others))


@bundles_app.command("reject")
def reject_cmd(
    bundle: int,
    reason: Annotated[str, typer.Option(help="Why (audited).")],
    actor: ActorOption = "", data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """Reject every member of a bundle; nothing is disposed."""
    b = _service(config, data_dir).reject(bundle, actor=actor or default_actor(), reason=reason)
    console.print(f"bundle {bundle} {b.status.value}")


def evaluate_bundles_cmd(
    world: Annotated[Path, typer.Option(help="Folder written by `telshield world generate`.",
                                        exists=True, file_okay=False)],
    per_group: Annotated[int, typer.Option(help="Clues taken per den and gang.")] = 3,
    find: Annotated[bool, typer.Option(help="Find dens and gangs first, as an analyst would "
                                       "(their members become evidence).")] = False,
    config: ConfigOption = None,
) -> None:
    """Share of a den's or gang's other numbers in a clue's bundle, and of non-fraud members."""
    from statistics import mean

    from telshield.cli.clues_evaluate import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from(config, Path(tmp))
        cases = evaluate(settings, world, per_group=per_group, find=find)
    cap = settings.clues.bundle_max_members
    t = table("group", "kind", "clue number", "others", "members", "in bundle", "share",
              f"share of ≤{cap}", "not fraud")
    for c in cases:
        t.add_row(c.group, c.kind, c.number, str(c.others), str(c.size), str(c.hits),
                  f"{c.recall:.0%}", f"{c.recall_capped(cap):.0%}", f"{c.innocent_share:.0%}")
    console.print(t)
    if cases:
        size = sum(c.size for c in cases)
        share = mean(c.recall for c in cases)
        console.print(
            f"{len(cases)} clues: mean share of the group's other numbers {share:.1%}"
            f" (of at most {cap}: {mean(c.recall_capped(cap) for c in cases):.1%}); members "
            f"not fraud {sum(c.not_fraud for c in cases)}/{size} "
            f"({sum(c.not_fraud for c in cases) / size if size else 0:.1%})")


def register(app: typer.Typer) -> None:
    """Add ``telshield clues bundles`` and ``telshield evaluate bundles``."""
    from telshield.cli.evaluate import evaluate_app

    evaluate_app.command("bundles")(evaluate_bundles_cmd)
    clues_app.add_typer(bundles_app, name="bundles")
    app.add_typer(clues_app, name="clues")
