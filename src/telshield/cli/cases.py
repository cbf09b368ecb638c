"""``telshield cases``: the disposal workflow — list, act, bulk-dispose, escalate, appeals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.table import Table

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    command_group,
    existing_data,
    table,
    whole,
)
from telshield.cli.users import ActorOption, default_actor
from telshield.domain.cases import Case, Command, parse_action
from telshield.domain.paging import Page
from telshield.services.cases import CaseService
from telshield.settings import Settings

console = Console()
cases_app = command_group(help="Disposal cases (预警处置): re-verify, restrict, suspend, appeal.",
                        no_args_is_help=True)


def _cases(config: Path | None, data_dir: Path | None) -> CaseService:
    from telshield import wiring

    return wiring.disposal(existing_data(config, data_dir)).cases


def _table(cases: list[Case]) -> Table:
    t = table(whole("id"), whole("msisdn"), whole("status"), "tier", "deadline (UTC)", "group",
              "updated (UTC)")
    for c in cases:
        t.add_row(str(c.id), c.msisdn, c.status.value, c.tier,
                  f"{c.deadline:%Y-%m-%d %H:%M}" if c.deadline else "", c.group_ref,
                  f"{c.updated_at:%Y-%m-%d %H:%M}")
    return t


def summary_table(summary: dict[str, dict[str, int]]) -> Table:
    """Cases per status and actions per kind as one table."""
    t = Table("", "what", "count")
    for k, n in sorted(summary["actions"].items()):
        t.add_row("actions", k, str(n))
    for k, n in sorted(summary["cases"].items()):
        t.add_row("cases now", k, str(n))
    return t


def print_disposal(settings: Settings, cases: CaseService, out: Console = console) -> None:
    """What the disposal policy did, and how to serve the API over it (for ``telshield demo``)."""
    out.print(summary_table(cases.summary()))
    out.print("serve the API over it: telshield users add me --role admin "
              f"--data-dir {settings.data_dir} && telshield serve --data-dir {settings.data_dir}")


@cases_app.command("list")
def list_cmd(
    status: Annotated[str, typer.Option(help="Only this status.")] = "",
    msisdn: Annotated[str, typer.Option(help="Only this number.")] = "",
    group: Annotated[str, typer.Option(help="Only this den/gang/terminal reference.")] = "",
    limit: Annotated[int, typer.Option(help="How many.")] = 50,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """List cases, newest first."""
    cs = _cases(config, data_dir).find(status=status, msisdn=msisdn, group_ref=group,
                                       page=Page(limit=limit))
    console.print(_table(cs))


@cases_app.command("show")
def show_cmd(case_id: int, data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """One case with its actions and appeals."""
    svc = _cases(config, data_dir)
    console.print(_table([svc.get(case_id)]))
    t = Table("at (UTC)", "action", "by", "from", "to", "reason", "notice")
    for a in reversed(svc.actions(case_id=case_id)):
        t.add_row(f"{a.at:%Y-%m-%d %H:%M}", a.kind.value, a.actor, a.from_status.value,
                  a.to_status.value, a.reason, a.notice)
    console.print(t)
    for ap in svc.appeals(case_id=case_id):
        console.print(f"appeal {ap.id}: {ap.status.value} — {ap.reason} {list(ap.documents)}")


@cases_app.command("act")
def act_cmd(
    case_id: int,
    action: Annotated[str, typer.Argument(help="verify, restrict, suspend, release, confirm.")],
    reason: Annotated[str, typer.Option(help="Why (told to the user).")],
    actor: ActorOption = "",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Take one action on one case."""
    c = _cases(config, data_dir).act(case_id, parse_action(action),
                                     actor=actor or default_actor(), reason=reason)
    console.print(_table([c]))


@cases_app.command("bulk")
def bulk_cmd(
    action: Annotated[str, typer.Argument(help="verify, restrict, suspend, release, confirm.")],
    numbers: Annotated[Path, typer.Option(exists=True, dir_okay=False,
                                          help="File with one number per line.")],
    reason: Annotated[str, typer.Option(help="Why (told to every user).")],
    group: Annotated[str, typer.Option(help="Den / gang / terminal reference.")] = "",
    actor: ActorOption = "",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Dispose of a set of numbers (a den, a gang, a terminal) in one transaction."""
    msisdns = numbers.read_text(encoding="utf-8").split()
    r = _cases(config, data_dir).bulk(msisdns, parse_action(action),
                                      actor=actor or default_actor(), reason=reason,
                                      group_ref=group)
    console.print(f"{r.action.value}: {r.moved} moved ({r.opened} new cases), "
                  f"{r.unchanged} already {r.action.target.value}")


@cases_app.command("verified")
def verified_cmd(case_id: int, note: Annotated[str, typer.Option(help="How it was checked.")
                                               ] = "", actor: ActorOption = "",
                 data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """The user re-verified their real name: lift the measure at once."""
    c = _cases(config, data_dir).verified(case_id, actor=actor or default_actor(), note=note)
    console.print(_table([c]))


@cases_app.command("escalate")
def escalate_cmd(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Suspend cases whose deadline passed (run it from cron, e.g. every 5 minutes)."""
    done = _cases(config, data_dir).escalate_overdue()
    console.print(f"suspended {done['suspend']} overdue case(s)")


@cases_app.command("appeal")
def appeal_cmd(
    case_id: int,
    reason: Annotated[str, typer.Option(help="The user's reason.")],
    document: Annotated[list[str] | None, typer.Option(help="A document reference (repeat).")
                        ] = None,
    actor: ActorOption = "",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """File a user's appeal against a measure."""
    a = _cases(config, data_dir).file_appeal(case_id, reason=reason, documents=document or [],
                                             actor=actor or default_actor())
    console.print(f"appeal {a.id} filed on case {case_id}")


@cases_app.command("decide")
def decide_cmd(
    appeal_id: int,
    passed: Annotated[bool, typer.Option("--pass/--reject", help="The outcome.")],
    reason: Annotated[str, typer.Option(help="Why (told to the user).")],
    actor: ActorOption = "",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Decide an appeal; a passed one releases the number at once."""
    a = _cases(config, data_dir).decide_appeal(appeal_id, passed=passed,
                                               actor=actor or default_actor(), reason=reason)
    console.print(f"appeal {a.id}: {a.status.value}")


class _JsonLinesBss:
    """Hands commands to the BSS as JSON lines appended to a file it collects (by key, once)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def send(self, command: Command) -> None:
        """Append one command and flush, so a crash loses nothing already sent."""
        self.out.write(json.dumps({"key": command.key, "command": command.kind.value,
                                   "msisdn": command.msisdn, "text": command.text,
                                   "created_at": command.created_at.isoformat()},
                                  ensure_ascii=False) + "\n")
        self.out.flush()


@cases_app.command("relay")
def relay_cmd(
    to: Annotated[Path, typer.Option(help="JSON-lines file the BSS collects (appended to).")],
    limit: Annotated[int, typer.Option(help="Most commands to send in this pass.")] = 10_000,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Send pending BSS commands (restrict, suspend, release, notices), at least once: the BSS
    must skip a key it has seen."""
    from telshield import wiring
    from telshield.services.disposal import relay
    from telshield.services.store import SystemClock

    d = wiring.disposal(existing_data(config, data_dir))
    with to.open("a", encoding="utf-8") as out:
        r = relay(d.store, SystemClock(), _JsonLinesBss(out), limit=limit)
    console.print(f"{r.delivered} command(s) sent to {to}, {r.failed} to retry")


@cases_app.command("offnet")
def offnet_cmd(
    operator: Annotated[str, typer.Option(
        help="Only lines for this party (china_unicom, china_telecom, international:HK, ...).")
    ] = "",
    since: Annotated[str, typer.Option(help="Only lines changed at or after YYYY-MM-DD[ HH:MM] "
                                            "(UTC): what is new since the last export.")] = "",
    csv_out: Annotated[Path | None, typer.Option(
        "--csv", help="Write every matching line to this CSV file instead of a table.")] = None,
    limit: Annotated[int, typer.Option(help="How many to show (the CSV has them all).")] = 50,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Suspected numbers we do not hold (other operators, landlines, service and foreign
    numbers): blocked or labelled in screening, one report line each for its operator."""
    from datetime import datetime

    try:
        after = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise typer.BadParameter(f"--since {since!r} is not YYYY-MM-DD or YYYY-MM-DD HH:MM"
                                 ) from None
    cases = _cases(config, data_dir)
    if csv_out is not None:
        with csv_out.open("w", encoding="utf-8", newline="") as out:
            n = cases.export_offnet(out, party=operator, since=after)
        console.print(f"{n} line(s) written to {csv_out}")
        return
    t = table("operator", whole("msisdn"), "kind", "region", "tier", "screening", "reasons",
              "updated (UTC)")
    for x in cases.offnet(party=operator, since=after, page=Page(limit=limit)):
        t.add_row(x.party, x.msisdn, x.kind + (f" ({x.label})" if x.label else ""), x.region,
                  x.tier, cases.offnet_screening(x), " ".join(x.reasons),
                  f"{x.updated_at:%Y-%m-%d %H:%M}")
    console.print(t)


@cases_app.command("summary")
def summary_cmd(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Cases per status and actions per kind."""
    console.print(summary_table(_cases(config, data_dir).summary()))


def register(app: typer.Typer) -> None:
    """Add ``telshield cases``."""
    app.add_typer(cases_app, name="cases")
