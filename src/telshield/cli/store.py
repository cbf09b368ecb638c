"""``telshield store``: the store itself (``copy``: move a data directory's store to another
database, e.g. from the embedded SQLite file to PostgreSQL)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from telshield.cli.common import ConfigOption, DataDirOption, command_group, existing_data, table

console = Console()
store_app = command_group(help="The store: copy it to another database.", no_args_is_help=True)


@store_app.command("copy")
def copy_cmd(
    to: Annotated[str, typer.Option(
        "--to", help="The target database URL, as every process will then use it, e.g. "
        "postgresql+psycopg://telshield@db/telshield (a schema other than the search path's: "
        "?options=-csearch_path=NAME; keep the password out of it: ~/.pgpass or PGPASSWORD).")],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Copy this data directory's store (every table, ids, times and the audit chain as they
    are) into an empty database, migrated first to this version's schema; then count both
    sides and re-hash the audit chain there. Stop `telshield run` and the API first: what they
    write during the copy would not be in it."""
    from telshield.wiring.datadir import copy_store

    done = copy_store(existing_data(config, data_dir), to)
    shown = table("table", "rows copied")
    shown.title = f"{done.source} -> {done.target} (schema revision {done.revision})"
    for name, n in done.rows.items():
        shown.add_row(name, f"{n:,}")
    console.print(shown)
    if not done.chain.ok:
        console.print(f"[bold red]audit chain on the target BROKEN[/] at event "
                      f"{done.chain.seq}: {done.chain.problem}")
        raise typer.Exit(1)
    console.print(f"{sum(done.rows.values()):,} rows copied; audit chain intact on the target "
                  f"({done.chain.checked:,} events). Point every process at it: "
                  "TELSHIELD_STORE__URL, or url under \\[store] in the settings file.")


def register(app: typer.Typer) -> None:
    """Add ``telshield store``."""
    app.add_typer(store_app, name="store")
