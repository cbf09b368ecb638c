"""``telshield lists``: black/white/grey lists — add, remove, import, export, check, diff."""

from __future__ import annotations

import sys
from datetime import datetime
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
    table,
    whole,
)
from telshield.cli.users import ActorOption, default_actor
from telshield.domain.lists import ListEntry
from telshield.services.lists import ListService

console = Console()
lists_app = command_group(help="Black, white and grey lists (黑白名单).", no_args_is_help=True)


WideOption = Annotated[bool, typer.Option(
    help="Allow white prefixes and ranges wider than lists.white_min_digits (an admin's "
    "decision: they whitelist many numbers).")]


def _lists(config: Path | None, data_dir: Path | None) -> ListService:
    from telshield import wiring

    return wiring.disposal(existing_data(config, data_dir)).lists


def _table(entries: list[ListEntry]) -> Table:
    t = table(whole("id"), whole("v"), "kind", whole("value"), "colour", "source", "police",
              "owner", "reason", "expires")
    for e in entries:
        # A range on two lines, each end whole, rather than one long word cut anywhere.
        value = f"{e.value}..\n{e.value_end}" if e.value_end else e.value
        t.add_row(str(e.id), str(e.version), e.kind.value, value, e.colour.value,
                  e.source.value, "yes" if e.police_ordered else "", e.owner, e.reason,
                  f"{e.expires_at:%Y-%m-%d %H:%M}" if e.expires_at else "")
    return t


@lists_app.command("add")
def add_cmd(
    kind: Annotated[str, typer.Argument(help="number, prefix, range, imei or id_hash.")],
    value: Annotated[str, typer.Argument(help="E.164 digits (low end of a range), IMEI, hash.")],
    colour: Annotated[str, typer.Argument(help="black, white or grey.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the entry).")],
    source: Annotated[str, typer.Option(help="police, detection, disposal, manual, partner.")
                      ] = "manual",
    end: Annotated[str, typer.Option(help="High end of a range.")] = "",
    expires: Annotated[datetime | None, typer.Option(help="Expiry (UTC).")] = None,
    police_ordered: Annotated[bool, typer.Option(help="A police-ordered block.")] = False,
    owner: Annotated[str, typer.Option(
        help="The company a white entry is registered to (industry card, registered "
        "telemarketing number): an enterprise whitelist entry, which needs --expires and caps "
        "detection at the watch tier.")] = "",
    wide: WideOption = False,
    actor: ActorOption = "",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Add one entry at a new list version."""
    e = _lists(config, data_dir).add(kind, value, colour, source=source, reason=reason,
                                     actor=actor or default_actor(), expires_at=expires,
                                     value_end=end, police_ordered=police_ordered, owner=owner,
                                     wide_ok=wide)
    console.print(_table([e]))


@lists_app.command("remove")
def remove_cmd(entry_id: int, reason: Annotated[str, typer.Option(help="Why.")],
               police_release: Annotated[str, typer.Option(
                   help="The police's written release: needed (and recorded in the audit) to "
                   "lift a police-ordered block.")] = "",
               actor: ActorOption = "", data_dir: DataDirOption = None,
               config: ConfigOption = None) -> None:
    """Remove one entry at a new list version (a police-ordered block: with --police-release)."""
    lists, who = _lists(config, data_dir), actor or default_actor()
    v = (lists.lift_police_block(entry_id, actor=who, reason=reason, release_ref=police_release)
         if police_release else lists.remove(entry_id, actor=who, reason=reason))
    console.print(f"entry {entry_id} removed at list version {v}")


@lists_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with a header: "
                                         "kind,value,value_end,colour,source,reason,"
                                         "expires_at,police_ordered,owner")],
    source: Annotated[str, typer.Option(help="Source for rows that name none.")] = "manual",
    wide: WideOption = False,
    actor: ActorOption = "",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Import entries from CSV: good rows at one new version, bad rows listed (exit 2 if any)."""
    with file.open(encoding="utf-8", newline="") as f:
        report = _lists(config, data_dir).import_csv(f, actor=actor or default_actor(),
                                                     default_source=source, wide_ok=wide)
    console.print(f"imported {report.added} entr{'y' if report.added == 1 else 'ies'}"
                  + (f" at list version {report.version}" if report.version else "")
                  + (f"; {report.already} already listed (a re-run adds nothing)"
                     if report.already else ""))
    if report.errors:
        t = Table("line", "rejected because")
        for line, why in report.errors:
            t.add_row(str(line), why)
        console.print(t)
        raise typer.Exit(2)


@lists_app.command("verify")
def verify_cmd(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Recompute every import's content hash (recorded in its audit event) from the stored
    entries: exit 1 naming each list version whose entries were changed in the database."""
    bad = _lists(config, data_dir).verify_imports()
    if not bad:
        console.print("list imports intact: every recorded content hash matches its entries")
        return
    for b in bad:
        console.print(f"[bold red]list version {b.version}[/]: its entries hash to "
                      f"{b.found[:16]}…, the import recorded {b.recorded[:16]}…: an entry "
                      "was edited, added or deleted in the database")
    raise typer.Exit(1)


@lists_app.command("export")
def export_cmd(
    file: Annotated[Path | None, typer.Argument(help="Output CSV (default: stdout).")] = None,
    version: Annotated[int | None, typer.Option(help="List version (default: latest).")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Export the entries in force at a list version as CSV (the import format)."""
    lists = _lists(config, data_dir)
    if file is None:
        lists.export_csv(sys.stdout, version=version)
        return
    with file.open("w", encoding="utf-8", newline="") as f:
        n = lists.export_csv(f, version=version)
    console.print(f"{n} entries written to {file}")


@lists_app.command("show")
def show_cmd(
    value: Annotated[str, typer.Option(help="Only this value.")] = "",
    kind: Annotated[str, typer.Option(
        help="Only this kind: number, prefix, range, imei (e.g. barred devices), id_hash.")] = "",
    colour: Annotated[str, typer.Option(help="Only this colour.")] = "",
    source: Annotated[str, typer.Option(help="Only this source.")] = "",
    enterprise: Annotated[bool, typer.Option(
        help="Only the enterprise whitelist (entries with an owner), expiring first.")] = False,
    limit: Annotated[int, typer.Option(help="How many.")] = 50,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Show entries in force, newest first (--enterprise: the enterprise whitelist)."""
    from telshield.domain.paging import Page

    lists = _lists(config, data_dir)
    entries = (lists.enterprise()[:limit] if enterprise else
               lists.find(value=value, kind=kind, colour=colour, source=source,
                          page=Page(limit=limit)))
    console.print(_table(entries))


@lists_app.command("check")
def check_cmd(number: str, data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Which entry decides for a number now (whitelist beats blacklist, except police orders)."""
    e = _lists(config, data_dir).decide(number.lstrip("+"))
    if e is None:
        console.print(f"{number}: not listed")
    else:
        console.print(_table([e]))


@lists_app.command("expire")
def expire_cmd(actor: ActorOption = "", data_dir: DataDirOption = None,
               config: ConfigOption = None) -> None:
    """Remove entries whose expiry has passed (run it from cron)."""
    v = _lists(config, data_dir).expire(actor=actor or default_actor())
    console.print("nothing expired" if v is None else f"expired entries removed at version {v}")


@lists_app.command("diff")
def diff_cmd(from_version: int, to_version: int, data_dir: DataDirOption = None,
             config: ConfigOption = None) -> None:
    """What changed between two list versions."""
    d = _lists(config, data_dir).diff(from_version, to_version)
    console.print(f"[bold]added[/] ({len(d.added)})")
    console.print(_table(list(d.added)))
    console.print(f"[bold]removed[/] ({len(d.removed)})")
    console.print(_table(list(d.removed)))


def register(app: typer.Typer) -> None:
    """Add ``telshield lists``."""
    app.add_typer(lists_app, name="lists")
