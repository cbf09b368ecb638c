"""Time in telshield: one rule, three clocks, and the only functions that convert between them.

- **Feed time** — naive ``datetime`` in China Standard Time (UTC+8), as the operator's switches
  and BSS write it. Feeds, the lake, detection windows, the cycle's tick moment and every data
  time derived from them (an alert's ``window_end``, a case's evidence) are feed time.
- **Store time** — naive ``datetime`` in UTC. Everything the platform stamps when it acts (list
  entries and their expiry, cases, deadlines, actions, audit events, an alert's
  ``detected_at``) is store time: the services' ``Clock`` gives it, the store keeps it.
- **Epoch seconds** — ``float``, what the screening faces compare call set-up times with
  (``time.time()``) and what a snapshot's ``as_of`` is.

A moment crosses from one to another only through the functions below (``docs/time.md``). China
has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact. An aware
``datetime`` handed to any of them is converted, never reinterpreted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

FEED_OFFSET = timedelta(hours=8)  # China Standard Time - UTC
CST = timezone(FEED_OFFSET, "CST")
_EPOCH = datetime(1970, 1, 1)

# Which clock a naive ``datetime`` belongs to, said in signatures at the seams (the cycle, the
# snapshot, the services' clock). Aliases, not distinct types: the names document the rule, the
# tests at the boundaries check it.
FeedTime = datetime
StoreTime = datetime


def feed_epoch(at: FeedTime) -> float:
    """Epoch seconds of a feed time (naive, China Standard Time)."""
    if at.tzinfo is not None:
        return at.timestamp()
    return (at - FEED_OFFSET - _EPOCH).total_seconds()


def feed_time(epoch: float) -> FeedTime:
    """The feed time (naive, China Standard Time) of epoch seconds."""
    return _EPOCH + FEED_OFFSET + timedelta(seconds=epoch)


def feed_now() -> FeedTime:
    """The wall-clock time as feed time (naive China Standard Time, whole seconds)."""
    return datetime.now(UTC).astimezone(CST).replace(tzinfo=None, microsecond=0)


def store_now() -> StoreTime:
    """The wall-clock time as store time (naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def store_time(at: datetime) -> StoreTime:
    """``at`` as store time: an aware ``datetime`` (an API's ``+14:00``) converted to naive
    UTC, never stripped of its offset; a naive one is taken as store time already."""
    if at.tzinfo is not None:
        return at.astimezone(UTC).replace(tzinfo=None)
    return at


def store_epoch(at: StoreTime) -> float:
    """Epoch seconds of a store time (naive, UTC)."""
    if at.tzinfo is not None:
        return at.timestamp()
    return (at - _EPOCH).total_seconds()


def feed_to_store(at: FeedTime) -> StoreTime:
    """The store time (naive UTC) of a feed time (naive China Standard Time)."""
    if at.tzinfo is not None:
        return at.astimezone(UTC).replace(tzinfo=None)
    return at - FEED_OFFSET


def store_to_feed(at: StoreTime) -> FeedTime:
    """The feed time (naive China Standard Time) of a store time (naive UTC)."""
    if at.tzinfo is not None:
        return at.astimezone(CST).replace(tzinfo=None)
    return at + FEED_OFFSET
