"""Progress of long commands on stderr, drawn as ``telshield ingest`` draws its bar.

Services report ``(what, done, total)`` through a plain callable; this turns those reports into
a Rich progress bar on stderr, so that stdout keeps only the results. The bar is transient and
drawn only on a terminal: piped or redirected output stays clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

Report = Callable[[str, int, int], None]


@contextmanager
def steps(title: str, *, console: Console | None = None) -> Iterator[Report]:
    """A progress bar titled ``title`` on stderr; yields the callable services report to."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task(title, total=None)

        def report(what: str, done: int, total: int) -> None:
            bar.update(task, description=f"{title}: {what}", completed=done, total=total or None)

        yield report
