"""``telshield init``: create a data directory and its store, or bring the store's schema up to
date after an upgrade."""

from __future__ import annotations

import typer
from rich.console import Console

from telshield.cli.common import ConfigOption, DataDirOption, settings_from

console = Console()


def init_cmd(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Create the data directory (lake, quarantine, store) or migrate an existing store to this
    version's schema. Safe to run again: nothing is lost."""
    from telshield.wiring.datadir import init_data_dir

    done = init_data_dir(settings_from(config, data_dir))
    verb = "created" if done.created else "up to date:"
    console.print(f"data directory {done.data_dir}: store {verb} {done.store} "
                  f"(schema revision {done.revision})")


def register(app: typer.Typer) -> None:
    """Add ``telshield init``."""
    app.command("init")(init_cmd)
