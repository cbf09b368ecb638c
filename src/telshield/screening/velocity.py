"""Velocity state per caller: calls and distinct callees per minute and per hour.

Fixed windows (the current minute and the current hour): a window's counters vanish by
themselves when time passes into the next one, so memory is bounded by the callers active in
one hour, and by ``max_callers`` and ``max_pairs`` on top: callers and caller-callee pairs beyond
them are not tracked (which errs towards letting calls through) and are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telshield.domain.errors import InvalidInput


@dataclass(frozen=True)
class VelocityLimits:
    """Thresholds; a count reaching a ``label_*`` limit labels, a ``reject_*`` limit rejects."""

    label_calls_per_minute: int = 8
    reject_calls_per_minute: int = 20
    label_callees_per_minute: int = 6
    reject_callees_per_minute: int = 15
    label_calls_per_hour: int = 120
    reject_calls_per_hour: int = 400
    label_callees_per_hour: int = 40
    reject_callees_per_hour: int = 120
    max_callers: int = 2_000_000
    max_pairs: int = 8_000_000  # (caller, callee) pairs remembered per hour, ~100 bytes each

    def __post_init__(self) -> None:
        pairs = [
            (self.label_calls_per_minute, self.reject_calls_per_minute),
            (self.label_callees_per_minute, self.reject_callees_per_minute),
            (self.label_calls_per_hour, self.reject_calls_per_hour),
            (self.label_callees_per_hour, self.reject_callees_per_hour),
        ]
        if any(not 0 < lab <= rej for lab, rej in pairs):
            raise InvalidInput(
                f"velocity limits {self}: each label limit must be positive and at most its "
                "reject limit"
            )


LABEL, REJECT = 1, 2
NO_LIMIT = (0, "")


class Velocity:
    """Counts calls per caller in the current minute and hour; not thread-safe (one thread).

    Per caller one small list ``[minute, calls/min, callees/min, calls/h, callees/h, first
    callee, minute it was last called, {other callee: minute last called} or None]``: a caller's
    first callee of the hour (most callers have one) costs no second map. The current minute's
    bounds are kept as floats, so a call inside the minute costs two comparisons, not a division.
    """

    __slots__ = (
        "_callers", "_first_quiet", "_hour_id", "_label", "_max_callers", "_max_pairs",
        "_minute_end", "_minute_id", "_pairs", "limits", "untracked",
    )

    def __init__(self, limits: VelocityLimits) -> None:
        self.limits = limits
        self.untracked = 0
        self._max_callers = limits.max_callers
        self._max_pairs = limits.max_pairs
        self._label = (limits.label_calls_per_minute, limits.label_callees_per_minute,
                       limits.label_calls_per_hour, limits.label_callees_per_hour)
        # A caller's first call of the hour counts 1 everywhere: under every label limit > 1.
        self._first_quiet = min(self._label) > 1
        self.reset()

    def reset(self) -> None:
        """Forget all counters (for example after a switch-over or in tests)."""
        self._minute_id = -1
        self._minute_end = float("-inf")
        self._hour_id = -1
        self._callers: dict[int, list[Any]] = {}
        self._pairs = 0  # (caller, callee) pairs remembered this hour

    def __len__(self) -> int:
        return len(self._callers)

    def _advance(self, now: float) -> int:
        """Move to the minute of ``now`` (later than the current one); a new hour forgets."""
        minute = int(now // 60)
        self._minute_id = minute
        self._minute_end = (minute + 1) * 60.0
        if minute // 60 > self._hour_id:
            self._hour_id = minute // 60
            self._callers = {}
            self._pairs = 0
        return minute

    def observe(self, caller: int, callee: int, now: float) -> tuple[int, str]:
        """Count one call and say whether the caller is over a limit: (0|LABEL|REJECT, code)."""
        # A late call (before the current minute) counts in the current window.
        minute = self._advance(now) if now >= self._minute_end else self._minute_id
        callers = self._callers
        st = callers.get(caller)
        if st is None:
            if len(callers) >= self._max_callers:
                self.untracked += 1
                return NO_LIMIT
            if self._pairs < self._max_pairs:
                self._pairs += 1
                callers[caller] = st = [minute, 1, 1, 1, 1, callee, minute, None]
            else:  # full: the pair is not counted (errs towards letting calls through)
                self.untracked += 1
                callers[caller] = st = [minute, 1, 0, 1, 0, None, -1, None]
            if self._first_quiet:
                return NO_LIMIT
            return _judge(st, self.limits)
        if st[0] != minute:
            st[0] = minute
            st[1] = st[2] = 0
        st[1] += 1
        st[3] += 1
        if callee == st[5]:
            if st[6] != minute:
                st[6] = minute
                st[2] += 1
        else:
            others = st[7]
            seen = None if others is None else others.get(callee)
            if seen != minute:
                if seen is not None or self._pairs < self._max_pairs:
                    if others is None:
                        others = st[7] = {}
                    others[callee] = minute
                    st[2] += 1
                    if seen is None:
                        st[4] += 1
                        self._pairs += 1
                else:  # full: the pair is not counted (errs towards letting calls through)
                    self.untracked += 1
        lab = self._label
        if st[1] < lab[0] and st[2] < lab[1] and st[3] < lab[2] and st[4] < lab[3]:
            return NO_LIMIT
        return _judge(st, self.limits)

    def calls_this_hour(self, caller: int) -> int:
        """Calls counted for ``caller`` in the current hour."""
        st = self._callers.get(caller)
        return int(st[3]) if st else 0


def _judge(st: list[Any], lim: VelocityLimits) -> tuple[int, str]:
    """The verdict for a caller at or over some label limit."""
    cm, dm, ch, dh = st[1], st[2], st[3], st[4]
    if cm >= lim.reject_calls_per_minute:
        return REJECT, "velocity:calls_per_minute"
    if dm >= lim.reject_callees_per_minute:
        return REJECT, "velocity:callees_per_minute"
    if ch >= lim.reject_calls_per_hour:
        return REJECT, "velocity:calls_per_hour"
    if dh >= lim.reject_callees_per_hour:
        return REJECT, "velocity:callees_per_hour"
    if cm >= lim.label_calls_per_minute:
        return LABEL, "velocity:calls_per_minute"
    if dm >= lim.label_callees_per_minute:
        return LABEL, "velocity:callees_per_minute"
    if ch >= lim.label_calls_per_hour:
        return LABEL, "velocity:calls_per_hour"
    return LABEL, "velocity:callees_per_hour"
