"""``telshield audit``: read the audit log and verify its hash chain."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from telshield.cli.common import ConfigOption, DataDirOption, existing_data, table, whole
from telshield.domain.audit import ChainedEvent

console = Console()
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify_cmd(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Re-hash the whole chain: exit 0 if intact, 1 with the first broken event if not."""
    from telshield import wiring

    report = wiring.disposal(existing_data(config, data_dir)).audit.verify()
    if report.ok:
        console.print(f"audit chain intact: {report.checked} event(s) verified")
        return
    console.print(f"[bold red]audit chain BROKEN[/] at event {report.seq}: {report.problem} "
                  f"({report.checked} event(s) read)")
    raise typer.Exit(1)


@audit_app.command("list")
def list_cmd(
    after: Annotated[int, typer.Option(help="Show events after this seq.")] = 0,
    limit: Annotated[int, typer.Option(help="How many events.")] = 50,
    subject: Annotated[str, typer.Option(help="Only this subject, e.g. case:12.")] = "",
    actor: Annotated[str, typer.Option(help="Only this actor.")] = "",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Show audit events in order."""
    from telshield import wiring

    events = wiring.disposal(existing_data(config, data_dir)).audit.events(
        after=after, limit=limit, subject=subject, actor=actor)
    console.print(_table(events))


def _table(events: list[ChainedEvent]) -> Table:
    t = table(whole("seq"), "at (UTC)", "actor", "action", whole("subject"), "hash")
    for c in events:
        t.add_row(str(c.seq), f"{c.event.at:%Y-%m-%d %H:%M:%S}", c.event.actor, c.event.action,
                  c.event.subject, c.hash[:12])
    return t


def register(app: typer.Typer) -> None:
    """Add ``telshield audit``."""
    app.add_typer(audit_app, name="audit")
