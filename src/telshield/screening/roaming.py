"""Who of ours is abroad *now*: location updates applied to a serving engine as they arrive.

The snapshot says who was abroad when it was built (the roaming feed's last update per
subscriber before ``as_of``), and it is built once an hour. A subscriber who lands abroad at
19:01 and calls home at 19:05 over the international gateway would otherwise be refused as a
spoof (``spoof:domestic_via_international``) until the next snapshot: the visited network's
location update is the only thing that tells a real caller from a spoofed one, and it arrives
minutes before the call. So the faces keep a small overlay on top of the snapshot:

- ``LiveRoaming``: the last location update per number received after the snapshot's ``as_of``
  (attach: abroad; detach: home). A decision reads the overlay first, then the snapshot. When a
  newer snapshot is swapped in, updates it already reflects (at or before its ``as_of``) are
  dropped, so the overlay stays as small as the last hour's updates.
- ``LocationJournal``: how updates reach every face and worker on a host (or hosts sharing the
  folder): appended as CSV lines ``epoch,msisdn,event`` to one file an hour under
  ``<snapshot directory>/location-updates/`` (each append written and fsynced whole), read
  incrementally by each face's follower; the publisher removes hours older than a day.

Times are epoch seconds, as everywhere in screening (``docs/time.md``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from telshield.domain.errors import InvalidInput
from telshield.screening.numbering import parse_numbers

I64 = npt.NDArray[np.int64]
EVENTS = ("attach", "detach")  # the roaming feed's location updates (reference.schemas)
FOLDER = "location-updates"
KEEP_S = 86_400.0  # journal hours older than this (before the snapshot's as_of) are removed
HOUR = 3600


@dataclass(frozen=True)
class Updates:
    """Location updates as columns: number, abroad (attach) or not (detach), epoch seconds."""

    numbers: I64
    abroad: npt.NDArray[np.bool_]
    at: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.numbers.size)

    @classmethod
    def of(cls, msisdns: Sequence[str], events: Sequence[str], at: Sequence[float],
           *, where: str = "location update") -> Updates:
        """Validated columns (a bad value names its row and what to send instead)."""
        n = len(msisdns)
        if len(events) != n or len(at) != n:
            raise InvalidInput(f"{where}: as many events and times as numbers are needed "
                               f"(got {n} numbers, {len(events)} events, {len(at)} times)")
        numbers = parse_numbers(list(msisdns))
        for i, (num, text, ev, t) in enumerate(zip(numbers, msisdns, events, at, strict=True)):
            if num <= 0:
                raise InvalidInput(f"{where} {i + 1}: msisdn {text!r} is not an E.164 number "
                                   "(country code first, digits only)")
            if ev not in EVENTS:
                raise InvalidInput(f"{where} {i + 1}: event {ev!r}: use attach or detach")
            if not np.isfinite(t) or t <= 0:
                raise InvalidInput(f"{where} {i + 1}: at {t!r}: give epoch seconds")
        return cls(numbers, np.array([e == "attach" for e in events], dtype=bool),
                   np.asarray(at, dtype=np.float64))

    @classmethod
    def empty(cls) -> Updates:
        return cls(np.empty(0, np.int64), np.empty(0, bool), np.empty(0, np.float64))


class LiveRoaming:
    """The last location update per number since the serving snapshot was built.

    ``state`` is read by the single-call law (a dict look-up before the snapshot's set) and
    changed in place under a lock that only writers (and the batch form's column build) take;
    a single-call reader sees each number's entry before or after an update, never half of
    one."""

    def __init__(self) -> None:
        self.state: dict[int, bool] = {}  # number -> abroad
        self._at: dict[int, float] = {}
        self.floor = 0.0  # the serving snapshot's as_of: updates at or before it are in it
        self.applied = 0  # updates that changed what a decision reads
        self._columns: tuple[I64, npt.NDArray[np.bool_]] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.state)

    def apply(self, updates: Updates) -> int:
        """Take the updates newer than both the snapshot and what is known of each number;
        returns how many were taken."""
        order = np.argsort(updates.at, kind="stable")
        with self._lock:
            return self._apply(updates, order)

    def _apply(self, updates: Updates, order: npt.NDArray[np.intp]) -> int:
        taken = 0
        state, stamps, floor = self.state, self._at, self.floor
        for num, abroad, at in zip(updates.numbers[order].tolist(),
                                   updates.abroad[order].tolist(),
                                   updates.at[order].tolist(), strict=True):
            if at <= floor or at < stamps.get(num, 0.0):
                continue
            stamps[num] = at
            state[num] = abroad
            taken += 1
        if taken:
            self._columns = None
            self.applied += taken
        return taken

    def settle(self, as_of: float) -> None:
        """A snapshot of ``as_of`` now serves: forget what it reflects already."""
        with self._lock:
            self.floor = as_of
            stale = [n for n, at in self._at.items() if at <= as_of]
            for n in stale:
                del self._at[n]
                self.state.pop(n, None)
            if stale:
                self._columns = None

    def abroad_many(self, numbers: I64, base: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """``base`` (the snapshot's answer for ``numbers``) with the overlay applied."""
        if not self.state:
            return base
        cols = self._columns
        if cols is None:
            with self._lock:
                items = list(self.state.items())
                keys = np.array([k for k, _ in items], dtype=np.int64)
                vals = np.array([v for _, v in items], dtype=bool)
                order = np.argsort(keys)
                cols = self._columns = (keys[order], vals[order])
        keys, vals = cols
        if keys.size == 0:
            return base
        i = np.minimum(np.searchsorted(keys, numbers), keys.size - 1)
        hit = keys[i] == numbers
        if not hit.any():
            return base
        out = np.array(base, dtype=bool, copy=True)
        out[hit] = vals[i[hit]]
        return out


class LocationJournal:
    """Location updates shared through a folder: one append-only CSV file an hour."""

    def __init__(self, directory: Path) -> None:
        self.folder = directory / FOLDER
        self._offsets: dict[str, int] = {}  # file name -> bytes read
        self.bad_lines = 0

    def append(self, updates: Updates) -> int:
        """Append ``updates`` (each hour's lines in one write, fsynced); returns the count."""
        if not len(updates):
            return 0
        self.folder.mkdir(parents=True, exist_ok=True)
        hours = (updates.at // HOUR).astype(np.int64)
        for h in np.unique(hours).tolist():
            rows = np.flatnonzero(hours == h)
            text = "".join(
                f"{updates.at[r]:.3f},{updates.numbers[r]},"
                f"{'attach' if updates.abroad[r] else 'detach'}\n" for r in rows.tolist())
            fd = os.open(self.folder / f"{h}.csv", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                os.write(fd, text.encode())  # one write of whole lines: readers never see half
                os.fsync(fd)
            finally:
                os.close(fd)
        return len(updates)

    def read_new(self, since: float = 0.0) -> Updates:
        """Updates appended since the last call, from the hours at or after ``since``."""
        if not self.folder.is_dir():
            return Updates.empty()
        first = int(since // HOUR)
        nums: list[int] = []
        abroad: list[bool] = []
        ats: list[float] = []
        for path in sorted(self.folder.glob("*.csv")):
            if not path.stem.isdigit() or int(path.stem) < first:
                continue
            start = self._offsets.get(path.name, 0)
            with path.open("rb") as f:
                f.seek(start)
                chunk = f.read()
            end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next read
            self._offsets[path.name] = start + end
            for line in chunk[:end].decode(errors="replace").splitlines():
                parsed = _parse(line)
                if parsed is None:
                    self.bad_lines += 1
                    continue
                ats.append(parsed[0])
                nums.append(parsed[1])
                abroad.append(parsed[2])
        return Updates(np.array(nums, dtype=np.int64), np.array(abroad, dtype=bool),
                       np.array(ats, dtype=np.float64))

    def prune(self, before: float) -> int:
        """Remove the hours wholly before ``before - KEEP_S``; returns how many."""
        if not self.folder.is_dir():
            return 0
        last = int((before - KEEP_S) // HOUR)
        gone = 0
        for path in self.folder.glob("*.csv"):
            if path.stem.isdigit() and int(path.stem) < last:
                path.unlink(missing_ok=True)
                self._offsets.pop(path.name, None)
                gone += 1
        return gone


def _parse(line: str) -> tuple[float, int, bool] | None:
    parts = line.split(",")
    if len(parts) != 3 or parts[2] not in EVENTS:
        return None
    try:
        at, num = float(parts[0]), int(parts[1])
    except ValueError:
        return None
    return (at, num, parts[2] == "attach") if num > 0 and at > 0 else None
