"""Who holds which numbers and who is sanctioned, by ID hash, read from the lake once and kept
in memory: a registration check looks an ID up in a dict, it never scans Parquet.

The ``subscribers`` feed's latest row per number says whose it is and whether it is cancelled;
a number counts as held under the ID unless cancelled (a suspended or restricted card is still
the holder's card under Art. 10). The ``sanctions`` feed lists communication sanctions.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from telshield.domain.clock import feed_to_store
from telshield.domain.registrations import Held, Sanction

if TYPE_CHECKING:  # the lake is read with Ibis: loaded only when the index is built
    from telshield.services.lakeread import FeedReader

log = structlog.get_logger(__name__)


@dataclass
class MemoryRegistry:
    """The registry as plain dicts: what the lake index holds, and the tests' implementation."""

    held: Mapping[str, Mapping[str, Held]] = field(default_factory=dict)
    sanctioned: Mapping[str, tuple[Sanction, ...]] = field(default_factory=dict)

    def numbers(self, id_hash: str) -> Mapping[str, Held]:
        """Every number the lake registers under the ID (cancelled ones marked not live)."""
        return self.held.get(id_hash, {})

    def sanctions(self, id_hash: str) -> tuple[Sanction, ...]:
        """The ID's sanctions, in force or not."""
        return self.sanctioned.get(id_hash, ())

    def refresh(self) -> None:
        """Nothing to re-read."""


class LakeRegistry:
    """The registry built from the lake's ``subscribers`` and ``sanctions`` feeds on first use,
    again on ``refresh``, and again on a look-up once it is older than ``max_age_s`` (0: never):
    a sanction ingested while the API runs counts within that time. One caller rebuilds a stale
    index while the others go on answering from the old one."""

    def __init__(self, reader: Callable[[], FeedReader], *, max_age_s: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._reader_of, self.max_age_s, self._monotonic = reader, max_age_s, monotonic
        self._index: MemoryRegistry | None = None
        self._built = 0.0
        self._lock, self._rebuilding = threading.Lock(), threading.Lock()

    def _current(self) -> MemoryRegistry:
        index = self._index
        if index is None:
            with self._lock:
                if self._index is None:
                    self._set(_build(self._reader_of()))
                assert self._index is not None
                return self._index
        stale = self.max_age_s > 0 and self._monotonic() - self._built >= self.max_age_s
        if stale and self._rebuilding.acquire(blocking=False):
            try:
                self._set(_build(self._reader_of()))
            finally:
                self._rebuilding.release()
            assert self._index is not None
            return self._index
        return index

    def _set(self, index: MemoryRegistry) -> None:
        self._index, self._built = index, self._monotonic()

    def numbers(self, id_hash: str) -> Mapping[str, Held]:
        """Every number the lake registers under the ID."""
        return self._current().numbers(id_hash)

    def sanctions(self, id_hash: str) -> tuple[Sanction, ...]:
        """The ID's sanctions."""
        return self._current().sanctions(id_hash)

    def refresh(self) -> None:
        """Re-read both feeds (the old index answers until the new one is built)."""
        self._set(_build(self._reader_of()))


def _build(r: FeedReader) -> MemoryRegistry:
    held: dict[str, dict[str, Held]] = defaultdict(dict)
    if not r.files("subscribers"):
        # Only the numbers this check allowed count against the card limit then.
        log.warning("registry.no_subscribers_feed",
                    hint="ingest the subscribers feed: numbers held before are not counted")
    else:
        t = r.table("subscribers")
        t = t.filter(t.id_hash.notnull())
        last = t.group_by("msisdn").aggregate(
            id_hash=t.id_hash.argmax(t.registered_at), status=t.status.argmax(t.registered_at),
            registered_at=t.registered_at.max())
        got = r.con.to_pyarrow(last).to_pydict()
        for m, h, s, at in zip(got["msisdn"], got["id_hash"], got["status"],
                               got["registered_at"], strict=True):
            # Feeds carry China time; the check compares in store time (docs/time.md).
            held[h][m] = Held(feed_to_store(at), s != "cancelled")
    sanctioned: dict[str, list[Sanction]] = defaultdict(list)
    if r.files("sanctions"):
        got = r.con.to_pyarrow(r.table("sanctions")).to_pydict()
        for h, start, end, why, by in zip(got["id_hash"], got["starts_at"], got["ends_at"],
                                          got["reason"], got["authority"], strict=True):
            sanctioned[h].append(Sanction(h, by or "", feed_to_store(end), why or "",
                                          feed_to_store(start) if start else None))
    log.info("registry.built", ids=len(held), sanctioned=len(sanctioned))
    return MemoryRegistry(dict(held), {h: tuple(s) for h, s in sanctioned.items()})
