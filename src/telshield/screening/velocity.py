"""Velocity state per caller: calls and distinct callees per minute and per hour.

Fixed windows (the current minute and the current hour): a window's counters vanish by
themselves when time passes into the next one, so memory is bounded by the callers active in
one hour, and by ``max_callers`` and ``max_pairs`` on top: callers and caller-callee pairs beyond
them are not tracked (which errs towards letting calls through) and are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """Counts calls per caller in the current minute and hour; not thread-safe (one event loop).

    Per caller one small list ``[minute, calls/min, callees/min, calls/h, callees/h]``; distinct
    callees are counted through one map of (caller, callee) pairs to the minute last seen.
    """

    def __init__(self, limits: VelocityLimits) -> None:
        self.limits = limits
        self.untracked = 0
        self.reset()

    def reset(self) -> None:
        """Forget all counters (for example after a switch-over or in tests)."""
        self._minute_id = -1
        self._hour_id = -1
        self._callers: dict[int, list[int]] = {}
        self._pairs: dict[int, int] = {}  # (caller, callee) -> minute last seen, this hour

    def __len__(self) -> int:
        return len(self._callers)

    def _roll(self, minute: int) -> None:
        self._minute_id = minute
        if minute // 60 > self._hour_id:
            self._hour_id = minute // 60
            self._callers = {}
            self._pairs = {}

    def observe(self, caller: int, callee: int, now: float) -> tuple[int, str]:
        """Count one call and say whether the caller is over a limit: (0|LABEL|REJECT, code)."""
        minute = int(now // 60)
        if minute > self._minute_id:
            self._roll(minute)
        elif minute < self._minute_id:
            minute = self._minute_id  # a late call counts in the current window
        st = self._callers.get(caller)
        if st is None:
            if len(self._callers) >= self.limits.max_callers:
                self.untracked += 1
                return NO_LIMIT
            st = self._callers[caller] = [minute, 0, 0, 0, 0]
        elif st[0] != minute:
            st[0], st[1], st[2] = minute, 0, 0
        pair = (caller << 50) | callee
        st[1] += 1
        st[3] += 1
        seen = self._pairs.get(pair)
        if seen != minute:
            if seen is not None or len(self._pairs) < self.limits.max_pairs:
                self._pairs[pair] = minute
                st[2] += 1
                if seen is None:
                    st[4] += 1
            else:  # full: the pair is not counted (errs towards letting calls through)
                self.untracked += 1
        lim = self.limits
        if (
            st[1] < lim.label_calls_per_minute
            and st[2] < lim.label_callees_per_minute
            and st[3] < lim.label_calls_per_hour
            and st[4] < lim.label_callees_per_hour
        ):
            return NO_LIMIT
        return _judge(st, lim)

    def calls_this_hour(self, caller: int) -> int:
        """Calls counted for ``caller`` in the current hour."""
        st = self._callers.get(caller)
        return st[3] if st else 0


def _judge(st: list[int], lim: VelocityLimits) -> tuple[int, str]:
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
