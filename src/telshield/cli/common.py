"""Options every command shares, and reading settings from them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Column, Table

from telshield.domain.errors import InvalidInput
from telshield.settings import Settings, load_settings

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory (lake, quarantine, store). [env: TELSHIELD_DATA_DIR]"
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="A TOML settings file. [env: TELSHIELD_CONFIG]",
                 envvar="TELSHIELD_CONFIG", show_envvar=False, exists=True, dir_okay=False),
]
EngineOption = Annotated[
    str | None,
    typer.Option("--engine", help="Where the lake queries run: duckdb or spark (default: the "
                 "[engine] name setting; Spark's master and conf come from [engine]).",
                 show_default=False),
]
InitOption = Annotated[
    bool, typer.Option("--init", help="Create the data directory and its store if there is none "
                       "(otherwise a folder without a store is refused).")
]


def settings_from(config: Path | None, data_dir: Path | None) -> Settings:
    """Settings from the environment and an optional file, with the data directory overridden."""
    return load_settings(config, data_dir=data_dir)


def existing_data(config: Path | None, data_dir: Path | None, *, init: bool | None = None
                  ) -> Settings:
    """Settings for a command that works on the data directory's store or lake: a folder that
    holds no store (a mistyped --data-dir) is refused, unless ``init`` creates it. ``None``
    means the command has no --init option."""
    from telshield.wiring.datadir import init_data_dir, require_data_dir

    settings = settings_from(config, data_dir)
    if init:
        init_data_dir(settings)
    else:
        require_data_dir(settings, can_init=init is not None)
    return settings


def whole(header: str, *, justify: Literal["left", "right"] = "left") -> Column:
    """A table column for a number or an id: never wrapped or cut short, the other columns give
    way first (and should even they not be enough, it folds onto a second line, never drops a
    digit): a truncated number is one an operator cannot act on."""
    return Column(header, no_wrap=True, overflow="fold", justify=justify)


def table(*columns: str | Column) -> Table:
    """A table whose cells fold onto more lines rather than end in an ellipsis when the
    terminal is narrow: nothing shown is ever cut short."""
    return Table(*(Column(c, overflow="fold") if isinstance(c, str) else c for c in columns))


_LOGGING: dict[str, Any] = {"level": "warning", "json": False}


def logging_setup() -> Callable[[], None]:
    """The logging this process was configured with, as a call a worker process makes."""
    return functools.partial(configure_logging, _LOGGING["level"], _LOGGING["json"])


def configure_logging(level: str = "warning", json: bool = False) -> None:
    """Structured logs to stderr (JSON for machines, key=value for people), at ``level``."""
    import logging
    import sys

    import structlog

    _LOGGING.update(level=level, json=json)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        # Resolved at each use, not at configure time: a caller (a test runner, a notebook) may
        # swap sys.stderr later, and a logger must not keep writing to a closed stream.
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )


def feed_time(option: str, value: str) -> datetime | None:
    """An option's date or time (China Standard Time, as the feeds), or None when left empty."""
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{option} {value!r}: give a date or time, e.g. 2026-11-01 or "
                           "'2026-11-01 08:00' (China Standard Time, as the feeds)") from None


def emit(text: str, out: Path | None, console: Console) -> None:
    """An export written to ``out``, or to stdout (for a pipe) when no file is given."""
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")


def command_group(**options: Any) -> typer.Typer:
    """A group of commands whose help is printed as written.

    Help texts name settings sections (``[engine] name``) and environment variables
    (``[env: TELSHIELD_DATA_DIR]``); Rich markup, Typer's default when Rich is installed,
    would take those for style tags and drop them from ``--help``.
    """
    return typer.Typer(rich_markup_mode=None, **options)
