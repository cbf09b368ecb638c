"""Velocity state per caller: calls and distinct callees per minute and per hour.

Fixed windows (the current minute and the current hour): a window's counters vanish by
themselves when time passes into the next one, so memory is bounded by the callers active in
one hour, and by ``max_callers`` and ``max_pairs`` on top: callers and caller-callee pairs beyond
them are not tracked (which errs towards letting calls through) and are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from telshield.domain.errors import InvalidInput

I64 = npt.NDArray[np.int64]
# (minute, calls/min, callees/min, calls/h, callees/h, first callee or None, its minute)
State = tuple[int, int, int, int, int, int | None, int]


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
_LIMITS = ("calls_per_minute", "callees_per_minute", "calls_per_hour", "callees_per_hour")
# What ``observe`` answers, by index: 0 under every limit, then (level, reason code) of the
# first limit reached, reject limits before label limits.
RESULTS: tuple[tuple[int, str], ...] = (
    (0, ""),
    *((REJECT, "velocity:" + name) for name in _LIMITS),
    *((LABEL, "velocity:" + name) for name in _LIMITS),
)
NO_LIMIT = 0


class Velocity:
    """Counts calls per caller in the current minute and hour; not thread-safe (one thread).

    Per caller one tuple of ints ``(minute, calls/min, callees/min, calls/h, callees/h, first
    callee, minute it was last called)``, replaced on each call, and, for a caller with more than
    one callee this hour, a map ``{other callee: minute last called}`` in ``_others``: a caller's
    first callee of the hour (most callers have one) costs no second map. Tuples and maps that
    hold only ints are left alone by Python's cycle collector, so a full collection does not
    walk the state of every caller this hour (with lists it did: 0.2 s at half a million
    callers, a stall of every decision in the process). The current minute's bounds are kept as
    floats, so a call inside the minute costs two comparisons, not a division.

    A caller a batch counted once this hour (most callers in a batch) is kept more compactly,
    as one int in ``_once`` — ``(callee + 1) * 64 + minute within the hour`` — made for a
    whole batch in one step; its next call turns it into the list.
    """

    __slots__ = (
        "_callers", "_first_quiet", "_hour_id", "_label", "_max_callers", "_max_pairs",
        "_minute_end", "_minute_id", "_once", "_others", "_pairs", "limits", "untracked",
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
        self._callers: dict[int, State] = {}
        self._others: dict[int, dict[int, int]] = {}
        self._once: dict[int, int] = {}
        self._pairs = 0  # (caller, callee) pairs remembered this hour

    def __len__(self) -> int:
        return len(self._callers) + len(self._once)

    def _advance(self, now: float) -> int:
        """Move to the minute of ``now`` (later than the current one); a new hour forgets."""
        minute = int(now // 60)
        self._minute_id = minute
        self._minute_end = (minute + 1) * 60.0
        if minute // 60 > self._hour_id:
            self._hour_id = minute // 60
            self._callers = {}
            self._others = {}
            self._once = {}
            self._pairs = 0
        return minute

    def _unpack(self, packed: int) -> State:
        """The state of a caller counted once (``_once``)."""
        m = self._hour_id * 60 + packed % 64
        return (m, 1, 1, 1, 1, packed // 64 - 1, m)

    def observe(self, caller: int, callee: int, now: float) -> int:
        """Count one call and say whether the caller is over a limit: an index into
        ``RESULTS`` (0: under every limit)."""
        # A late call (before the current minute) counts in the current window.
        minute = self._advance(now) if now >= self._minute_end else self._minute_id
        callers = self._callers
        st = callers.get(caller)
        if st is None:
            packed = self._once.pop(caller, None) if self._once else None
            if packed is not None:
                st = self._unpack(packed)
            elif len(callers) + len(self._once) >= self._max_callers:
                self.untracked += 1
                return NO_LIMIT
            else:
                if self._pairs < self._max_pairs:
                    self._pairs += 1
                    callers[caller] = st = (minute, 1, 1, 1, 1, callee, minute)
                else:  # full: the pair is not counted (errs towards letting calls through)
                    self.untracked += 1
                    callers[caller] = st = (minute, 1, 0, 1, 0, None, -1)
                if self._first_quiet:
                    return NO_LIMIT
                return _judge(st, self.limits)
        was, cm, dm, ch, dh, first, first_at = st
        if was != minute:
            cm = dm = 0
        cm += 1
        ch += 1
        if callee == first:
            if first_at != minute:
                first_at = minute
                dm += 1
        else:
            others = self._others.get(caller)
            seen = None if others is None else others.get(callee)
            if seen != minute:
                if seen is not None or self._pairs < self._max_pairs:
                    if others is None:
                        others = self._others[caller] = {}
                    others[callee] = minute
                    dm += 1
                    if seen is None:
                        dh += 1
                        self._pairs += 1
                else:  # full: the pair is not counted (errs towards letting calls through)
                    self.untracked += 1
        callers[caller] = (minute, cm, dm, ch, dh, first, first_at)
        lab = self._label
        if cm < lab[0] and dm < lab[1] and ch < lab[2] and dh < lab[3]:
            return NO_LIMIT
        return _judge((minute, cm, dm, ch, dh), self.limits)

    def observe_batch(self, callers: I64, callees: I64, now: float) -> npt.NDArray[np.int8]:
        """Count many calls set up at one time ``now``, in order: the same answers (indices
        into ``RESULTS``) and the same counts as ``observe`` called for each in turn.

        A caller's counts depend only on its own calls, so callers may be counted in any order
        as long as each one's calls keep theirs. The common caller — not yet seen this hour,
        one call in the batch — is counted in bulk (``_once``): its answer is that of a first
        call. The others go through ``observe`` call by call. When the batch could reach
        either memory bound, which caller or pair is left untracked depends on the order
        across callers: then every call goes through ``observe`` in order."""
        n = int(callers.size)
        c_list = callers.tolist()
        if (len(self) + n > self._max_callers or self._pairs + n > self._max_pairs
                or n == 0):
            observe, e_list = self.observe, callees.tolist()
            return np.fromiter((observe(c, e, now) for c, e in zip(c_list, e_list, strict=True)),
                               dtype=np.int8, count=n)
        minute = self._advance(now) if now >= self._minute_end else self._minute_id
        first = NO_LIMIT if self._first_quiet else _judge((minute, 1, 1, 1, 1), self.limits)
        state, once = self._callers, self._once
        packed = ((callees + 1) * 64 + (minute - self._hour_id * 60)).tolist()
        out = np.full(n, first, dtype=np.int8)
        if state.keys().isdisjoint(c_list) and once.keys().isdisjoint(c_list):
            # The usual batch: no caller seen this hour. Count them all at once; a caller
            # with several calls in the batch shows as fewer new entries than calls.
            before = len(once)
            once.update(zip(c_list, packed, strict=True))
            if len(once) - before == n:
                self._pairs += n
                return out
            _, firsts, counts = np.unique(callers, return_index=True, return_counts=True)
            again = set(callers[firsts[counts > 1]].tolist())
            for c in again:
                del once[c]  # its entry holds its last call: count its calls one by one
            self._pairs += len(once) - before
            rest = [k for k, c in enumerate(c_list) if c in again]
        else:
            known = state.keys() & c_list
            known |= once.keys() & c_list
            _, firsts, counts = np.unique(callers, return_index=True, return_counts=True)
            single = [k for k in firsts[counts == 1].tolist() if c_list[k] not in known]
            once.update((c_list[k], packed[k]) for k in single)
            self._pairs += len(single)
            keep = np.ones(n, dtype=bool)
            keep[single] = False
            rest = np.flatnonzero(keep).tolist()
        observe, e_list = self.observe, callees.tolist()
        for k in rest:
            out[k] = observe(c_list[k], e_list[k], now)
        return out

    def state(self) -> dict[int, list[Any]]:
        """Every tracked caller's counters as ``[minute, calls/min, callees/min, calls/h,
        callees/h, first callee, minute it was last called, {other callee: minute} or None]``
        (for tests and inspection)."""
        return {**{c: [*self._unpack(p), None] for c, p in self._once.items()},
                **{c: [*st, self._others.get(c)] for c, st in self._callers.items()}}

    def calls_this_hour(self, caller: int) -> int:
        """Calls counted for ``caller`` in the current hour."""
        if caller in self._once:
            return 1
        st = self._callers.get(caller)
        return int(st[3]) if st else 0


def _judge(st: tuple[Any, ...], lim: VelocityLimits) -> int:
    """The verdict (index into ``RESULTS``) for a caller at or over some label limit."""
    cm, dm, ch, dh = st[1], st[2], st[3], st[4]
    if cm >= lim.reject_calls_per_minute:
        return 1
    if dm >= lim.reject_callees_per_minute:
        return 2
    if ch >= lim.reject_calls_per_hour:
        return 3
    if dh >= lim.reject_callees_per_hour:
        return 4
    if cm >= lim.label_calls_per_minute:
        return 5
    if dm >= lim.label_callees_per_minute:
        return 6
    if ch >= lim.label_calls_per_hour:
        return 7
    return 8
