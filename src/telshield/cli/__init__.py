"""The ``telshield`` command. Each area adds its sub-commands in its own module of this package;
this module holds the one error -> exit-code table."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from telshield.cli.common import command_group
from telshield.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TelshieldError,
    Unauthenticated,
    Unavailable,
)

app = command_group(
    name="telshield",
    help="Telecom anti-fraud governance: ingest feeds, detect fraud, dispose, screen calls.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# The only error -> exit-code table of the CLI.
EXIT_CODES: dict[type[TelshieldError], int] = {
    InvalidInput: 2,
    NotFound: 3,
    Conflict: 4,
    Forbidden: 5,
    Unauthenticated: 5,
    Unavailable: 6,
}


def exit_code(error: TelshieldError) -> int:
    """The exit code for an error (the most specific class in the table wins)."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1


@app.callback()
def _root(
    log_level: str = typer.Option(
        "warning", envvar="TELSHIELD_LOG_LEVEL", help="debug, info, warning or error."
    ),
    log_json: bool = typer.Option(
        False, envvar="TELSHIELD_LOG_JSON", help="Logs as JSON lines."
    ),
) -> None:
    """Telecom anti-fraud governance: ingest feeds, detect fraud numbers, dispose, screen calls."""
    from telshield.cli.common import configure_logging

    configure_logging(log_level, log_json)


def _register() -> None:
    # Imported here, not at module level of the sub-modules' callers, so start-up stays cheap.
    from telshield.cli import datadir, demo, ingest, numbers

    datadir.register(app)
    ingest.register(app)
    demo.register(app)
    numbers.register(app)
    from telshield.cli import detect, evaluate, model, rules  # early warning

    detect.register(app)
    rules.register(app)
    model.register(app)
    evaluate.register(app)
    from telshield.cli import run  # the operating cycle

    run.register(app)
    from telshield.cli import screen  # interception

    screen.register(app)
    from telshield.cli import world  # province simulator

    world.register(app)
    from telshield.cli import audit, cases, lists, serve, store, users  # disposal

    for area in (lists, cases, audit, users, serve, store):
        area.register(app)
    from telshield.cli import registrations  # the registration check

    registrations.register(app)
    from telshield.cli import gangs  # card-trafficking gangs

    gangs.register(app)
    from telshield.cli import hotspots  # out-of-town concentration hotspots

    hotspots.register(app)

    from telshield.cli import dens  # GOIP dens

    dens.register(app)

    from telshield.cli import trace  # trace a number (溯源)

    trace.register(app)

    from telshield.cli import police  # police coordination (警企协同)

    police.register(app)

    from telshield.cli import clues  # police clues: their bundles of related numbers

    clues.register(app)


def main() -> None:
    """Entry point: run the CLI and turn telshield errors into messages and exit codes."""
    _register()
    try:
        app()
    except TelshieldError as e:
        from rich.markup import escape

        # Messages name settings like [api] and files like a[1].csv: print them as written.
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(e))}")
        sys.exit(exit_code(e))
