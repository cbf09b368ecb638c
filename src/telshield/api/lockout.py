"""Lock-out after repeated wrong API keys: a client address, or one key tried from many
addresses, that fails ``max_failures`` times within ``window_s`` is refused (429 with
Retry-After) until the oldest of those failures leaves the window.

This one counts in process memory: the API uses it only over a store that is not SQL. Over the
SQL store the API counts in the store (``store.lockout.SqlLockout``, the same window), so that
``serve --workers N`` and several hosts share one count instead of giving an attacker N times
the tries. Each failure is also logged (``api.auth.failed``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

MAX_TRACKED = 100_000  # subjects remembered at most; the stalest are forgotten first


class Lockout:
    """Failure counts per subject ("client:<address>", "key:<fingerprint>") in a sliding
    window."""

    def __init__(self, max_failures: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window_s, self.clock = max_failures, window_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()  # sync routes run in a thread pool

    def retry_after(self, subjects: Iterable[str]) -> int:
        """Seconds until every one of ``subjects`` may try again (0: now)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for s in subjects:
                times = self._recent(s, now)
                if len(times) >= self.max_failures:
                    wait = max(wait, times[-self.max_failures] + self.window_s - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, subjects: Iterable[str]) -> None:
        """Count one failure against each of ``subjects``."""
        now = self.clock()
        with self._lock:
            for s in subjects:
                times = self._recent(s, now)
                times.append(now)
                self._failures[s] = times
            while len(self._failures) > MAX_TRACKED:
                del self._failures[next(iter(self._failures))]

    def _recent(self, subject: str, now: float) -> deque[float]:
        times = self._failures.get(subject, deque(maxlen=self.max_failures))
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times
