"""The wrong-key lock-out kept in the store, so that every API worker (``serve --workers N``)
and every host on the same store counts the same failures: a subject ("client:<address>",
"key:<fingerprint>") with ``max_failures`` failures younger than ``window_s`` is refused until
the oldest of them leaves the window — the same sliding window as the in-process
``api.lockout.Lockout``, one row per failure (``auth_failures``).

Each check is one indexed read (no write lock on SQLite); each failure one insert, which also
deletes every failure that has left the window, so the table holds at most the failures of the
last window. Times are the hosts' wall clocks (keep them in step with NTP)."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from telshield.store.tables import auth_failures as t

SUBJECT_MAX = 80  # the column's width; longer subjects (no address is) are cut


@functools.cache
def _recent(n: int) -> sa.TextClause:
    # Plain SQL, one statement per number of subjects (1 or 2): this read runs before every
    # authentication, and the Core select with an expanding IN cost twice as much per call.
    marks = ", ".join(f":s{i}" for i in range(n))
    return sa.text(f"SELECT subject, at FROM {t.name} WHERE subject IN ({marks}) "
                   "AND at > :since")


class SqlLockout:
    """Failure counts per subject in a sliding window, in the store."""

    def __init__(self, engine: Engine, max_failures: int, window_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine, self.max_failures, self.window_s = engine, max_failures, window_s
        self.clock = clock

    def retry_after(self, subjects: Iterable[str]) -> int:
        """Seconds until every one of ``subjects`` may try again (0: now)."""
        keys = sorted({s[:SUBJECT_MAX] for s in subjects})
        if not keys:
            return 0
        now = self.clock()
        params: dict[str, object] = {f"s{i}": k for i, k in enumerate(keys)}
        with self.engine.connect().execution_options(telshield_read=True) as c, c.begin():
            rows = c.execute(_recent(len(keys)), {**params, "since": now - self.window_s}).all()
        recent: dict[str, list[float]] = {}
        for subject, at in rows:
            recent.setdefault(subject, []).append(float(at))
        wait = 0.0
        for times in recent.values():
            if len(times) >= self.max_failures:
                times.sort(reverse=True)
                wait = max(wait, times[self.max_failures - 1] + self.window_s - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, subjects: Iterable[str]) -> None:
        """Count one failure against each of ``subjects``; forget those past the window."""
        keys = sorted({s[:SUBJECT_MAX] for s in subjects})
        now = self.clock()
        with self.engine.begin() as c:
            c.execute(t.delete().where(t.c.at <= now - self.window_s))
            if keys:
                c.execute(t.insert(), [{"subject": s, "at": now} for s in keys])
