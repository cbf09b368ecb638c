"""A drop folder for feed files (``telshield run --watch DIR``): one sub-folder per feed.

Operators' export jobs drop files into ``DIR/<feed>/``. Each tick, files that have not changed
for ``settle_s`` seconds (a file still being written is left for the next tick; so are names
starting with a dot and ``.tmp``/``.part`` files) are ingested, reference feeds first, then moved
to ``DIR/.done/<feed>/``. A file that cannot be ingested at all goes to ``DIR/.failed/<feed>/``
with a ``.error`` file beside it saying why; the others of its feed are still ingested. Bad rows
inside a readable file go to quarantine as with ``telshield ingest``. Re-ingesting adds nothing,
so a crash between the ingest and the move only costs the work again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog

from telshield.domain.clock import feed_now
from telshield.feeds.readers import SUFFIXES
from telshield.services.ingest import INGEST_ORDER, IngestOptions, ingest

log = structlog.get_logger(__name__)

DONE, FAILED = ".done", ".failed"
_PARTIAL = (".tmp", ".part", ".partial")


@dataclass(frozen=True)
class InboxFile:
    """What became of one dropped file."""

    feed: str
    name: str
    rows: int = 0  # rows read from it
    quarantined: int = 0  # of which sent to quarantine
    error: str = ""  # why it could not be ingested at all


@dataclass
class InboxResult:
    """What one collection did."""

    files: list[InboxFile] = field(default_factory=list)
    added: int = 0  # rows added to the lake (a repeated row adds nothing)

    @property
    def quarantined(self) -> int:
        """Rows sent to quarantine."""
        return sum(f.quarantined for f in self.files)

    @property
    def failed(self) -> int:
        """Files that could not be ingested at all."""
        return sum(1 for f in self.files if f.error)


class Inbox:
    """Ingests the settled files of a drop folder and moves them out of the way."""

    def __init__(self, root: Path, options: IngestOptions, *, settle_s: float = 2.0,
                 now: Callable[[], datetime] = feed_now,
                 wall: Callable[[], float] = time.time) -> None:
        self.root, self.options, self.settle_s = root, options, settle_s
        self.now, self.wall = now, wall

    def pending(self) -> list[tuple[str, Path]]:
        """Settled files waiting, as (feed, path), reference feeds first."""
        cutoff = self.wall() - self.settle_s
        out: list[tuple[str, Path]] = []
        for feed in INGEST_ORDER:
            folder = self.root / feed
            if not folder.is_dir():
                continue
            for p in sorted(folder.iterdir()):
                if (p.is_file() and p.suffix in SUFFIXES and not p.name.startswith(".")
                        and not p.name.endswith(_PARTIAL) and p.stat().st_mtime <= cutoff):
                    out.append((feed, p))
        return out

    def collect(self) -> InboxResult:
        """Ingest every settled file, feed by feed, and move each to ``.done`` or ``.failed``."""
        result = InboxResult()
        by_feed: dict[str, list[Path]] = {}
        for feed, p in self.pending():
            by_feed.setdefault(feed, []).append(p)
        for feed, paths in by_feed.items():
            try:
                self._ingest(feed, paths, result)
            except Exception:  # one bad file must not hold back its feed
                for p in paths:  # find the file(s) at fault: one at a time
                    self._ingest_one(feed, p, result)
        if result.files:
            log.info("inbox.collected", files=len(result.files), added=result.added,
                     quarantined=result.quarantined, failed=result.failed)
        return result

    def _ingest(self, feed: str, paths: list[Path], result: InboxResult) -> None:
        report = ingest(feed, paths, self.options, now=self.now())
        result.added += report.added
        by_path = {f.path: f for f in report.files}
        for p in paths:
            fr = by_path.get(str(p))
            result.files.append(InboxFile(feed, p.name, rows=fr.rows_read if fr else 0,
                                          quarantined=fr.quarantined if fr else 0))
            self._move(p, DONE, feed)

    def _ingest_one(self, feed: str, path: Path, result: InboxResult) -> None:
        try:
            self._ingest(feed, [path], result)
        except Exception as e:  # reported beside the file, never lost
            error = f"{type(e).__name__}: {e}"
            log.error("inbox.file_failed", feed=feed, file=path.name, error=error)
            moved = self._move(path, FAILED, feed)
            moved.with_name(moved.name + ".error").write_text(error + "\n")
            result.files.append(InboxFile(feed, path.name, error=error))

    def _move(self, path: Path, where: str, feed: str) -> Path:
        target_dir = self.root / where / feed
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / path.name
        n = 1
        while target.exists():
            target = target_dir / f"{path.stem}.{n}{path.suffix}"
            n += 1
        path.replace(target)
        return target
