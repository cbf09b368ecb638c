"""``telshield audit``: read the audit log and verify its hash chain."""

from __future__ import annotations

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
from telshield.domain.audit import ChainedEvent

console = Console()
audit_app = command_group(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify_cmd(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Re-hash the whole chain under the installation's keys and check it against the
    checkpoints written outside the store: exit 0 if intact, 1 with the first problem if not."""
    from telshield import wiring
    from telshield.services.audit import verify_checkpoints
    from telshield.wiring.security import checkpoint_path

    settings = existing_data(config, data_dir)
    audit = wiring.disposal(settings).audit
    report = audit.verify()
    if not report.ok:
        console.print(f"[bold red]audit chain BROKEN[/] at event {report.seq}: {report.problem} "
                      f"({report.checked} event(s) read)")
        raise typer.Exit(1)
    keyed = ", ".join(f"{n} under key {kid}" for kid, n in report.keyed.items()) or "none keyed"
    console.print(f"audit chain intact: {report.checked} event(s) verified ({keyed}"
                  + (f"; {report.unkeyed} from before keying" if report.unkeyed else "") + ")")
    if not audit.keys:
        console.print("[yellow]the installation secret is the placeholder: the chain is not "
                      "keyed, so a rewrite with re-hashing would pass; set TELSHIELD_SECRET[/]")
    path = checkpoint_path(settings)
    checks = verify_checkpoints(audit, path)
    if not checks.ok:
        console.print(f"[bold red]audit chain BROKEN[/]: {checks.problem}")
        raise typer.Exit(1)
    console.print(f"checkpoints: {checks.checked} held ({path})" if checks.checked
                  else f"checkpoints: none yet ({path})")


@audit_app.command("checkpoint")
def checkpoint_cmd(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Append the chain's head, signed, to the checkpoint file outside the store (each tick of
    `telshield run` does this too)."""
    from telshield import wiring
    from telshield.services.audit import write_checkpoint
    from telshield.wiring.security import checkpoint_path

    settings = existing_data(config, data_dir)
    d = wiring.disposal(settings)
    line = write_checkpoint(d.audit, checkpoint_path(settings), d.cases.clock.now())
    console.print(f"checkpoint: event {line['seq']} under key {line['kid']} -> "
                  f"{checkpoint_path(settings)}")


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
