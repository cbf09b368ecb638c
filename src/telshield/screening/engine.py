"""The decision function: one call set-up in, allow / label / warn-callee / reject out, with
reason codes and a decision id.

The stages and their order are the law in ``screening.law`` (``STAGES``), declared once; the
engine runs its two derived forms: ``decide`` (one call, the compiled straight function) and
``decide_batch`` (many calls set up at one time, the sweep over columns). Both give the same
decisions and leave the same velocity state (a property test runs every stage through both).

The snapshot is read once per decision (or batch) from one attribute, so a swap (one reference
assignment) never mixes two snapshots in one decision.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, overload

import msgspec
import numpy as np
import numpy.typing as npt
import structlog

from telshield.domain.alerts import Tier
from telshield.domain.errors import InvalidInput, Unavailable
from telshield.screening.decisionlog import DecisionLog, DecisionRecord
from telshield.screening.law import RANKS, Batch, Result, Sweep, scalar_law
from telshield.screening.numbering import CARRIER_CODE
from telshield.screening.roaming import LiveRoaming, Updates
from telshield.screening.snapshot import Outcome, Snapshot
from telshield.screening.velocity import Velocity, VelocityLimits

log = structlog.get_logger(__name__)
K = TypeVar("K", str, str | None)

INGRESS = ("radio", "interconnect", "international")
_INGRESS_CODE = {name: i for i, name in enumerate(INGRESS)}
OUTCOMES = (Outcome.ALLOW, Outcome.LABEL, Outcome.WARN_CALLEE, Outcome.REJECT)


class Decision(msgspec.Struct, frozen=True, gc=False):
    """What was decided for one call, why, and the id to quote in an appeal.

    The id is the engine's prefix and the decision's sequence number in hex, built when it is
    first asked for (most in-process decisions never need it)."""

    outcome: Outcome
    reasons: tuple[str, ...]
    seq: int
    node: str

    @property
    def id(self) -> str:
        """The decision id to quote in an appeal (unique per engine process)."""
        return f"{self.node}{self.seq:x}"


@dataclass(frozen=True)
class EngineConfig:
    """How the engine decides; built from ``ScreeningSettings`` by the edges."""

    max_age_s: float = 3 * 3600.0
    fail_open: bool = True
    tier_outcomes: Mapping[Tier, Outcome] = field(
        default_factory=lambda: {
            Tier.SUSPEND: Outcome.REJECT,
            Tier.VERIFY: Outcome.REJECT,
            Tier.WATCH: Outcome.LABEL,
        }
    )
    wrong_carrier: Outcome = Outcome.REJECT  # a mobile on the trunk of a carrier not serving it
    velocity: VelocityLimits = field(default_factory=VelocityLimits)
    log_allowed: bool = False  # also log allowed calls (statistics); off keeps the log small


def new_node() -> str:
    """A fresh decision-id prefix: the time in ms and the process id, in hex, and a dash."""
    return f"{int(time.time() * 1000):x}{os.getpid() % 4096:03x}-"


# Trunk carrier codes by name, None and "" (not known) included.
_PARTNER: dict[str | None, int] = {None: 0, "": 0}
_PARTNER.update(CARRIER_CODE.items())


def partner_code(name: str | None) -> int:
    """The code of the carrier whose trunk handed a call over (0: not known); an unknown name
    is an InvalidInput that lists the names."""
    if not name:
        return 0
    code = CARRIER_CODE.get(name)
    if code is None:
        raise InvalidInput(f"unknown carrier {name!r}; use one of {', '.join(CARRIER_CODE)}")
    return code


def ingress_code(name: str) -> int:
    """The code of an ingress name; an unknown name is an InvalidInput that lists the names."""
    try:
        return _INGRESS_CODE[name]
    except KeyError:
        raise InvalidInput(f"unknown ingress {name!r}; use one of {', '.join(INGRESS)}") from None


class Decisions(Sequence[Decision]):
    """The decisions of one batch, as columns (the order of the request); indexing or
    iterating gives ``Decision`` objects, made when asked for."""

    def __init__(self, ranks: npt.NDArray[np.int8], rids: npt.NDArray[np.int32],
                 reason_sets: Sequence[tuple[str, ...]], first_seq: int, node: str) -> None:
        self._ranks, self._rids, self._sets = ranks, rids, reason_sets
        self.first_seq, self.node = first_seq, node

    def __len__(self) -> int:
        return int(self._ranks.size)

    @overload
    def __getitem__(self, i: int) -> Decision: ...
    @overload
    def __getitem__(self, i: slice) -> list[Decision]: ...
    def __getitem__(self, i: int | slice) -> Decision | list[Decision]:
        if isinstance(i, slice):
            return [self[k] for k in range(len(self))[i]]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return Decision(RANKS[self._ranks[i]], self._sets[self._rids[i]], self.first_seq + i,
                        self.node)

    def __iter__(self) -> Iterator[Decision]:
        sets, node, seq = self._sets, self.node, self.first_seq
        for k, (r, s) in enumerate(zip(self._ranks.tolist(), self._rids.tolist(), strict=True)):
            yield Decision(RANKS[r], sets[s], seq + k, node)

    @property
    def ranks(self) -> npt.NDArray[np.int8]:
        """The rank of each call's outcome (``Outcome.rank``: 0 allow ... 3 reject)."""
        return self._ranks

    @property
    def outcomes(self) -> list[Outcome]:
        """The outcome of each call."""
        return [RANKS[r] for r in self._ranks.tolist()]

    @property
    def reasons(self) -> list[tuple[str, ...]]:
        """The reason codes of each call."""
        sets = self._sets
        return [sets[r] for r in self._rids.tolist()]

    @property
    def ids(self) -> list[str]:
        """The decision id of each call."""
        node, seq = self.node, self.first_seq
        return [f"{node}{k:x}" for k in range(seq, seq + len(self))]


class Engine:
    """Decides calls against the current snapshot and per-caller velocity state."""

    def __init__(
        self,
        config: EngineConfig | None = None,
        *,
        decision_log: DecisionLog | None = None,
        clock: Callable[[], float] = time.time,
        node: str = "",
    ) -> None:
        self.config = config or EngineConfig()
        self.velocity = Velocity(self.config.velocity)
        self.decision_log = decision_log
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._node = node or new_node()  # the prefix of this engine's decision ids
        self._seq = 0
        self.outcomes: dict[Outcome, int] = dict.fromkeys(OUTCOMES, 0)
        # Decisions per reasons tuple (a handful of distinct tuples): one dict update a call;
        # ``reasons`` spreads them into a Counter per reason code when read.
        self._reason_sets: dict[tuple[str, ...], int] = {}
        self._log_allowed = self.config.log_allowed
        self._max_age = self.config.max_age_s
        self.fail_open_count = 0
        tiers = self.config.tier_outcomes
        # Results of the warning stage by tier index (law.TIER_OF): 1 suspend, 2 verify, 3 watch.
        self._tiers = (
            (Outcome.ALLOW, ""),
            (tiers[Tier.SUSPEND], "warning:suspend"),
            (tiers[Tier.VERIFY], "warning:verify"),
            (tiers[Tier.WATCH], "warning:watch"),
        )
        # Location updates newer than the snapshot (screening.roaming): read by both forms.
        self.roaming = LiveRoaming()
        self._carrier = ((self.config.wrong_carrier, "spoof:wrong_carrier"),)
        self._law = scalar_law(self.velocity.observe, self._tiers, live=self.roaming,
                               carrier_results=self._carrier)
        self._sweep = Sweep()

    @property
    def node(self) -> str:
        """The prefix of this engine's decision ids."""
        return self._node

    @property
    def reasons(self) -> Counter[str]:
        """Reason codes given with decisions so far, with how often each was given."""
        out: Counter[str] = Counter()
        # A copy first: the metrics endpoint reads this from another thread.
        for reasons, n in list(self._reason_sets.items()):
            for r in reasons:
                out[r] += n
        return out

    # -- snapshot ---------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot | None:
        """The snapshot decisions read now."""
        return self._snapshot

    def swap(self, snapshot: Snapshot) -> None:
        """Make ``snapshot`` the one later decisions read (one atomic reference assignment);
        location updates it reflects already leave the live overlay."""
        self._snapshot = snapshot
        self.roaming.settle(snapshot.as_of)
        log.info("screening.snapshot.swapped", version=snapshot.version, numbers=len(snapshot))

    def now(self) -> float:
        """The engine's clock: epoch seconds."""
        return self._clock()

    def location_updates(self, updates: Updates) -> int:
        """Take our subscribers' location updates newer than the snapshot (attach abroad,
        detach home) into what later decisions read; returns how many were taken."""
        taken = self.roaming.apply(updates)
        if taken:
            log.debug("screening.location_updates", taken=taken, live=len(self.roaming))
        return taken

    def snapshot_age(self, now: float | None = None) -> float | None:
        """Seconds since the snapshot's data was current, or None when there is none."""
        snap = self._snapshot
        if snap is None:
            return None
        return (self._clock() if now is None else now) - snap.as_of

    def _unusable(self, snap: Snapshot | None, now: float) -> str:
        if snap is None:
            reason = "snapshot:missing"
        elif now - snap.as_of > self._max_age:
            reason = "snapshot:stale"
        else:
            return ""
        if not self.config.fail_open:
            raise Unavailable(
                f"screening {reason.split(':')[1]}: build a snapshot (telshield screen build) "
                "or set screening.fail_open to let calls through meanwhile"
            )
        self.fail_open_count += 1
        return reason

    # -- one call ---------------------------------------------------------------------------

    def decide(
        self, caller: str, callee: str, ingress: str = "interconnect", at: float | None = None,
        caller_imei: str | None = None, carrier: str | None = None,
    ) -> Decision:
        """Decide one call set-up; ``at`` is the set-up time (epoch seconds), default now;
        ``caller_imei`` (radio-originated calls) lets the device-class rule apply; ``carrier``
        (interconnect calls: the carrier whose trunk handed it over) lets the serving-carrier
        check apply."""
        now = self._clock() if at is None else at
        snap = self._snapshot  # read once: a swap during this call cannot mix snapshots
        ing = _INGRESS_CODE.get(ingress)
        if ing is None:
            ing = ingress_code(ingress)
        result: Result
        if snap is None or now - snap.as_of > self._max_age:
            result = (Outcome.ALLOW, (self._unusable(snap, now),))
        else:
            partner = _PARTNER.get(carrier, -1)
            if partner < 0:
                partner = partner_code(carrier)  # raises, naming the carrier
            result = self._law(snap, caller, callee, ing, now, caller_imei, partner)
        outcome, reasons = result
        self._seq = seq = self._seq + 1
        d = Decision(outcome, reasons, seq, self._node)
        self.outcomes[outcome] += 1
        if reasons:
            rs = self._reason_sets
            rs[reasons] = rs.get(reasons, 0) + 1
        if self.decision_log is not None and (outcome is not Outcome.ALLOW or self._log_allowed):
            self.decision_log.append(
                DecisionRecord(d.id, now, caller, callee, INGRESS[ing], outcome, reasons,
                               snap.version if snap is not None else "")
            )
        return d

    # -- many calls -------------------------------------------------------------------------

    def decide_batch(
        self,
        callers: Sequence[str],
        callees: Sequence[str],
        ingress: Sequence[str] | str = "interconnect",
        at: float | None = None,
        caller_imeis: Sequence[str | None] | None = None,
        carriers: Sequence[str | None] | str | None = None,
    ) -> Decisions:
        """Decide many calls set up at time ``at`` (default now), in order, as ``decide`` would
        one by one; ``caller_imeis`` (None or an absent entry: unknown) lets the device-class
        rule apply, ``carriers`` (the carrier whose trunk handed each call over; None or an
        absent entry: unknown) the serving-carrier check."""
        n = len(callers)
        if len(callees) != n or (not isinstance(ingress, str) and len(ingress) != n):
            raise InvalidInput("a batch needs as many callees (and ingress values) as callers")
        if caller_imeis is not None and len(caller_imeis) != n:
            raise InvalidInput("a batch needs as many caller IMEIs (null where unknown) as "
                               "callers, or none at all")
        if carriers is not None and not isinstance(carriers, str) and len(carriers) != n:
            raise InvalidInput("a batch needs as many trunk carriers (null where unknown) as "
                               "callers, one for all, or none at all")
        partner = _partner_codes(carriers, n)
        now = self._clock() if at is None else at
        snap = self._snapshot
        ing = _ingress_codes(ingress, n)
        seq = self._seq + 1
        sets = self._sweep.reason_sets
        if snap is None or now - snap.as_of > self._max_age:
            reason = self._unusable(snap, now)
            self.fail_open_count += n - 1
            ranks = np.zeros(n, dtype=np.int8)
            rids = np.full(n, sets.plus(0, reason), dtype=np.int32)
        else:
            batch = Batch(snap, callers, callees, ing, caller_imeis, now, self.velocity,
                          self._tiers, self.roaming, partner, self._carrier)
            ranks, rids = self._sweep.run(batch)
        self._seq += n
        out = Decisions(ranks, rids, sets.tuples, seq, self._node)
        self._count(ranks, rids, sets.tuples)
        self._log_batch(snap, callers, callees, ing, out, now)
        return out

    def _count(self, ranks: npt.NDArray[np.int8], rids: npt.NDArray[np.int32],
               tuples: list[tuple[str, ...]]) -> None:
        """Count a batch's outcomes and reasons."""
        for r, k in enumerate(np.bincount(ranks, minlength=len(RANKS)).tolist()):
            self.outcomes[RANKS[r]] += k
        counts = np.bincount(rids)
        rs = self._reason_sets
        for r in np.flatnonzero(counts[1:]).tolist():
            reasons = tuples[r + 1]
            rs[reasons] = rs.get(reasons, 0) + int(counts[r + 1])

    def _log_batch(
        self,
        snap: Snapshot | None,
        callers: Sequence[str],
        callees: Sequence[str],
        ing: npt.NDArray[np.int8],
        decisions: Decisions,
        now: float,
    ) -> None:
        sink = self.decision_log
        if sink is None:
            return
        rows = range(len(decisions)) if self._log_allowed else np.flatnonzero(
            decisions.ranks).tolist()
        version = snap.version if snap is not None else ""
        for i in rows:
            d = decisions[i]
            sink.append(DecisionRecord(d.id, now, callers[i], callees[i], INGRESS[int(ing[i])],
                                       d.outcome, d.reasons, version))


def _partner_codes(carriers: Sequence[str | None] | str | None,
                   n: int) -> npt.NDArray[np.int8] | int:
    """Trunk carrier codes for a batch (one int when the same for all); an unknown name is an
    InvalidInput that lists the names."""
    if carriers is None or isinstance(carriers, str):
        return partner_code(carriers)
    return _column_codes(carriers, _PARTNER, partner_code, n)


def _ingress_codes(ingress: Sequence[str] | str, n: int) -> npt.NDArray[np.int8]:
    """Ingress codes for a batch; an unknown name is an InvalidInput that lists the names."""
    if isinstance(ingress, str):
        return np.full(n, ingress_code(ingress), dtype=np.int8)
    return _column_codes(ingress, _INGRESS_CODE, ingress_code, n)


def _column_codes(names: Sequence[K], codes: Mapping[K, int], check: Callable[[K], int],
                  n: int) -> npt.NDArray[np.int8]:
    """The code of each name, in one pass; on an unknown name, ``check`` raises naming the
    first one."""
    try:
        return np.fromiter(map(codes.__getitem__, names), dtype=np.int8, count=n)
    except KeyError:
        for name in names:
            check(name)
        raise
