"""Feed time: the operator's systems write China Standard Time without a zone.

Feeds, the lake and detection windows keep that convention (naive ``datetime`` in UTC+8, called
*feed time*); the screening faces compare set-up times with ``time.time()``, true epoch seconds.
These two functions are the one place the two meet. China has kept UTC+8 without daylight
saving since 1991, so a fixed offset is exact.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")
_EPOCH = datetime(1970, 1, 1)
_OFFSET = timedelta(hours=8)


def feed_epoch(at: datetime) -> float:
    """Epoch seconds of a feed time (naive, China Standard Time)."""
    if at.tzinfo is not None:
        return at.timestamp()
    return (at - _OFFSET - _EPOCH).total_seconds()


def feed_time(epoch: float) -> datetime:
    """The feed time (naive, China Standard Time) of epoch seconds."""
    return _EPOCH + _OFFSET + timedelta(seconds=epoch)


def feed_now() -> datetime:
    """The wall-clock time as feed time (naive China Standard Time, whole seconds)."""
    return datetime.now(UTC).astimezone(CST).replace(tzinfo=None, microsecond=0)
