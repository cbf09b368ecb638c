"""Keeping a serving engine on the published snapshot (``screening.publish``): the faces poll the
pointer, build a new version off the serving thread and swap it in with one reference
assignment, so no decision is dropped or sees two snapshots. Between snapshots they follow the
location-update journal beside it (``screening.roaming``) more often, so a subscriber who has
just landed abroad can call home before the next snapshot knows."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import structlog

from telshield.domain.errors import Unavailable
from telshield.screening.engine import Engine
from telshield.screening.publish import current_version, load_current
from telshield.screening.roaming import HOUR, LocationJournal
from telshield.screening.snapshot import Snapshot

log = structlog.get_logger(__name__)


class SnapshotFollower:
    """Follows the pointer of a snapshot directory for one engine; counts what it did."""

    def __init__(self, engine: Engine, directory: Path, every_s: float,
                 updates_every_s: float | None = None) -> None:
        self.engine = engine
        self.directory = directory
        self.every_s = every_s
        self.updates_every_s = min(updates_every_s or every_s, every_s)
        self.journal = LocationJournal(directory)
        self.reloads = 0  # versions swapped in
        self.failures = 0  # versions that could not be read or built
        self.location_updates = 0  # location updates read from the journal
        self.last_error = ""
        snap = engine.snapshot
        self._seen = snap.version if snap is not None else None

    def check(self) -> bool:
        """Load, build and swap in the current version when it changed since the last look;
        True when swapped. Blocking: run it off the serving thread (``run`` does)."""
        try:
            return self._check()
        finally:
            self.follow_updates()

    def follow_updates(self) -> int:
        """Apply the location updates appended to the journal since the last look; returns
        how many were read."""
        floor = self.engine.roaming.floor
        updates = self.journal.read_new(since=floor - HOUR if floor else 0.0)
        if len(updates):
            self.location_updates += len(updates)
            self.engine.location_updates(updates)
        return len(updates)

    def _check(self) -> bool:
        name = current_version(self.directory)
        if name is None or name == self._seen:
            return False
        try:
            data = load_current(self.directory)
            snap = Snapshot.build(data)
        except (OSError, ValueError, KeyError, json.JSONDecodeError, Unavailable) as e:
            self.failures += 1
            self.last_error = f"{name}: {e}"
            log.error("screening.reload_failed", directory=str(self.directory), version=name,
                      error=str(e))
            return False
        self.engine.swap(snap)  # one reference assignment: decisions never see half a snapshot
        self._seen = snap.version
        self.reloads += 1
        return True

    async def run(self) -> None:
        """Check for a snapshot every ``every_s`` seconds and for location updates every
        ``updates_every_s``, forever, each look in a worker thread."""
        due = time.monotonic() + self.every_s
        while True:
            await asyncio.sleep(self.updates_every_s)
            if time.monotonic() >= due:
                due = time.monotonic() + self.every_s
                await asyncio.to_thread(self.check)
            else:
                await asyncio.to_thread(self.follow_updates)


async def flush_forever(engine: Engine, every_s: float = 1.0) -> None:
    """Flush the decision log every ``every_s`` seconds, so that a crash loses at most that."""
    while True:
        await asyncio.sleep(every_s)
        if engine.decision_log is not None:
            engine.decision_log.flush()
