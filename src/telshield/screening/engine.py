"""The decision function: one call set-up in, allow / label / warn-callee / reject out, with
reason codes and a decision id.

Order: malformed caller → police-ordered block → whitelist → barred device (the caller's IMEI
TAC is a known GOIP / SIM-bank TAC, or the IMEI itself is blacklisted; only when the caller IMEI
is given) → blacklist → spoofed caller ID → barred callee (a call from abroad to a number whose
service is restricted or suspended) → high-risk prefixes → grey list → numbers under warning (by
tier) → protected callee → velocity.
The first stage that rejects decides; labels and warnings gather and the strongest wins.
A police-ordered block is checked before the whitelist because the list law says it beats one
(``telshield.domain.lists.rank``).

The snapshot is read once per decision from one attribute, so a swap (one reference
assignment) never mixes two snapshots in one decision.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np
import numpy.typing as npt
import structlog

from telshield.domain.alerts import Tier
from telshield.domain.errors import InvalidInput, Unavailable
from telshield.screening.decisionlog import DecisionLog, DecisionRecord
from telshield.screening.numbering import I64, OWN, Kind, parse_numbers
from telshield.screening.snapshot import (
    BLACK,
    GREY,
    POLICE,
    PROTECTED,
    SUSPEND,
    U8,
    VERIFY,
    WATCH,
    WHITE,
    Outcome,
    Snapshot,
    imei_tac,
    imei_tacs,
)
from telshield.screening.velocity import REJECT, Velocity, VelocityLimits

log = structlog.get_logger(__name__)

INGRESS = ("radio", "interconnect", "international")
RADIO, INTERCONNECT, INTERNATIONAL = 0, 1, 2
_INGRESS_CODE = {name: i for i, name in enumerate(INGRESS)}
_DOMESTIC = (Kind.MOBILE, Kind.FIXED, Kind.SERVICE)
OUTCOMES = (Outcome.ALLOW, Outcome.LABEL, Outcome.WARN_CALLEE, Outcome.REJECT)
_ALLOWED: tuple[Outcome, tuple[str, ...]] = (Outcome.ALLOW, ())
_R_MALFORMED = (Outcome.REJECT, ("spoof:malformed",))
_R_POLICE = (Outcome.REJECT, ("list:police",))
_R_WHITE = (Outcome.ALLOW, ("list:white",))
_R_BLACK = (Outcome.REJECT, ("list:black",))
_R_SELF = (Outcome.REJECT, ("spoof:caller_is_callee",))
_R_UNALLOCATED = (Outcome.REJECT, ("spoof:unallocated",))
_R_INTERNATIONAL = (Outcome.REJECT, ("spoof:domestic_via_international",))
_R_OWN = (Outcome.REJECT, ("spoof:own_number_via_interconnect",))
_R_DEVICE_LISTED = (Outcome.REJECT, ("device:listed",))
_R_CALLEE_BARRED = (Outcome.REJECT, ("callee:barred",))


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
    velocity: VelocityLimits = field(default_factory=VelocityLimits)
    log_allowed: bool = False  # also log allowed calls (statistics); off keeps the log small


def ingress_code(name: str) -> int:
    """The code of an ingress name; an unknown name is an InvalidInput that lists the names."""
    try:
        return _INGRESS_CODE[name]
    except KeyError:
        raise InvalidInput(f"unknown ingress {name!r}; use one of {', '.join(INGRESS)}") from None


class Engine:
    """Decides calls against the current snapshot and per-caller velocity state."""

    def __init__(
        self,
        config: EngineConfig | None = None,
        *,
        decision_log: DecisionLog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or EngineConfig()
        self.velocity = Velocity(self.config.velocity)
        self.decision_log = decision_log
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._node = f"{int(time.time() * 1000):x}{os.getpid() % 4096:03x}-"
        self._seq = 0
        self.outcomes: dict[Outcome, int] = dict.fromkeys(OUTCOMES, 0)
        # Decisions per reasons tuple (a handful of distinct tuples): one dict update a call;
        # ``reasons`` spreads them into a Counter per reason code when read.
        self._reason_sets: dict[tuple[str, ...], int] = {}
        self._log_allowed = self.config.log_allowed
        self._max_age = self.config.max_age_s
        self._observe = self.velocity.observe
        self.fail_open_count = 0
        tiers = self.config.tier_outcomes
        # Tier bit -> (outcome, reason), strongest tier first.
        self._tiers = (
            (SUSPEND, tiers[Tier.SUSPEND], "warning:suspend"),
            (VERIFY, tiers[Tier.VERIFY], "warning:verify"),
            (WATCH, tiers[Tier.WATCH], "warning:watch"),
        )

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
        """Make ``snapshot`` the one later decisions read (one atomic reference assignment)."""
        self._snapshot = snapshot
        log.info("screening.snapshot.swapped", version=snapshot.version, numbers=len(snapshot))

    def snapshot_age(self, now: float | None = None) -> float | None:
        """Seconds since the snapshot's data was current, or None when there is none."""
        snap = self._snapshot
        if snap is None:
            return None
        return (self._clock() if now is None else now) - snap.as_of

    # -- one call ---------------------------------------------------------------------------

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

    def decide(
        self, caller: str, callee: str, ingress: str = "interconnect", at: float | None = None,
        caller_imei: str | None = None,
    ) -> Decision:
        """Decide one call set-up; ``at`` is the set-up time (epoch seconds), default now;
        ``caller_imei`` (radio-originated calls) lets the device-class rule apply."""
        now = self._clock() if at is None else at
        snap = self._snapshot  # read once: a swap during this call cannot mix snapshots
        ing = _INGRESS_CODE.get(ingress)
        if ing is None:
            ing = ingress_code(ingress)
        reasons: tuple[str, ...]
        if snap is None or now - snap.as_of > self._max_age:
            outcome, reasons = Outcome.ALLOW, (self._unusable(snap, now),)
        else:
            outcome, reasons = self._decide(snap, caller, callee, ing, now, caller_imei)
        self._seq = seq = self._seq + 1
        d = Decision(outcome, reasons, seq, self._node)
        self.outcomes[outcome] += 1
        if reasons:
            rs = self._reason_sets
            rs[reasons] = rs.get(reasons, 0) + 1
        if self.decision_log is not None and (outcome is not Outcome.ALLOW or self._log_allowed):
            self.decision_log.append(
                DecisionRecord(d.id, now, caller, callee, INGRESS[ing], outcome, reasons,
                               snap.version if snap else "")
            )
        return d

    def _decide(
        self, snap: Snapshot, text: str, callee: str, ing: int, now: float, imei: str | None
    ) -> tuple[Outcome, tuple[str, ...]]:
        # The hot path: parse_number, flags_of and NumberingPlan.classify written out inline.
        n = len(text)
        if not (2 < n < 16 and text.isdigit() and text.isascii() and text[0] != "0"):
            return _R_MALFORMED
        c = int(text)
        ne = len(callee)
        ok_e = 2 < ne < 16 and callee.isdigit() and callee.isascii() and callee[0] != "0"
        e = int(callee) if ok_e else -1
        f = snap.flags_of(c) if c in snap.listed else 0
        if snap.has_list_prefixes:
            f |= snap.list_prefixes.lookup(text)
        if f & (POLICE | WHITE):
            return _R_POLICE if f & POLICE else _R_WHITE
        if imei:
            device = snap.tac_reason(imei_tac(imei))
            if device:
                return Outcome.REJECT, (device,)
            if imei in snap.imeis:
                return _R_DEVICE_LISTED
        if f & BLACK:
            return _R_BLACK
        if c == e and ing != RADIO:  # our own subscriber calling itself is voicemail
            return _R_SELF
        plan = snap.plan
        code = plan.memo[n].get(text[: plan.width])
        if code is None:
            code = plan.classify(text)
        kind = code & 7
        if kind == Kind.UNALLOCATED:
            return _R_UNALLOCATED
        if ing == INTERNATIONAL and kind in _DOMESTIC:
            return _R_INTERNATIONAL
        if ing == INTERCONNECT and code & OWN:
            return _R_OWN
        if ing == INTERNATIONAL and e > 0 and e in snap.listed and snap.flags_of(e) & SUSPEND:
            return _R_CALLEE_BARRED
        if f or snap.risk_prefixes:
            rule = snap.risk_table.lookup(text) if snap.risk_prefixes else -1
            warned = f & (SUSPEND | VERIFY | WATCH)
            protected = bool(warned) and e > 0 and e in snap.listed and bool(
                snap.flags_of(e) & PROTECTED
            )
            return self._soft(snap, f, rule, protected, c, e, now)
        level, vcode = self._observe(c, e, now)
        if not level:
            return _ALLOWED
        return (Outcome.REJECT if level == REJECT else Outcome.LABEL), (vcode,)

    # -- many calls -------------------------------------------------------------------------

    def decide_batch(
        self,
        callers: Sequence[str],
        callees: Sequence[str],
        ingress: Sequence[str] | str = "interconnect",
        at: float | None = None,
        caller_imeis: Sequence[str | None] | None = None,
    ) -> list[Decision]:
        """Decide many calls in order (vectorised list and spoof checks), all at time ``at``;
        ``caller_imeis`` (None or an absent entry: unknown) lets the device-class rule apply."""
        n = len(callers)
        if len(callees) != n or (not isinstance(ingress, str) and len(ingress) != n):
            raise InvalidInput("a batch needs as many callees (and ingress values) as callers")
        if caller_imeis is not None and len(caller_imeis) != n:
            raise InvalidInput("a batch needs as many caller IMEIs (null where unknown) as "
                               "callers, or none at all")
        now = self._clock() if at is None else at
        snap = self._snapshot
        ing = _ingress_codes(ingress, n)
        seq = self._seq
        node = self._node
        if snap is None or now - snap.as_of > self._max_age:
            reason = (self._unusable(snap, now),)
            self.fail_open_count += n - 1
            self._seq += n
            self._count([(Outcome.ALLOW, reason)] * n)
            return [Decision(Outcome.ALLOW, reason, k, node) for k in range(seq + 1, seq + n + 1)]
        c = parse_numbers(callers)
        e = parse_numbers(callees)
        tacs = imei_tacs(caller_imeis) if caller_imeis is not None else None
        f = snap.flags_many(c)
        devices = (np.fromiter((i in snap.imeis for i in caller_imeis), dtype=bool, count=n)
                   if caller_imeis is not None and snap.imeis else None)
        final = self._pre_stages(snap, f, c, e, ing, tacs, devices)
        results = self._finish(snap, f, c, e, final, now)
        self._count(results)
        self._seq += n
        seqs = range(seq + 1, seq + n + 1)
        out = [Decision(o, r, k, node) for (o, r), k in zip(results, seqs, strict=True)]
        self._log_batch(snap, callers, callees, ing, out, now)
        return out

    def _pre_stages(
        self, snap: Snapshot, flags: U8, c: I64, e: I64, ing: npt.NDArray[np.int8],
        tacs: I64 | None = None,
        devices: npt.NDArray[np.bool_] | None = None,
    ) -> list[tuple[Outcome, tuple[str, ...]] | None]:
        """The stages that end a decision at once (rejects, whitelist), vectorised; ``flags``
        are the callers' snapshot flags (without list prefixes); ``devices`` marks calls from
        blacklisted IMEIs."""
        f = flags
        if len(snap.list_prefixes):
            f = f | snap.list_prefixes.lookup_many(c).astype(np.uint8)
        kind = snap.plan.kinds_of(c)
        own = snap.plan.own_many(c)
        risk = snap.risk_table.lookup_many(c) if snap.risk_prefixes else None
        stages: list[tuple[npt.NDArray[np.bool_], Outcome, str]] = [
            (c < 0, Outcome.REJECT, "spoof:malformed"),
            ((f & POLICE) > 0, Outcome.REJECT, "list:police"),
            ((f & WHITE) > 0, Outcome.ALLOW, "list:white"),
        ]
        if tacs is not None and snap.tacs.size:
            device = snap.tac_codes(tacs)
            stages += [(device == k, Outcome.REJECT, r) for k, r in enumerate(snap.tac_reasons)]
        if devices is not None:
            stages.append((devices, Outcome.REJECT, "device:listed"))
        stages += [
            ((f & BLACK) > 0, Outcome.REJECT, "list:black"),
            ((c == e) & (ing != RADIO), Outcome.REJECT, "spoof:caller_is_callee"),
            (kind == Kind.UNALLOCATED, Outcome.REJECT, "spoof:unallocated"),
            (
                (ing == INTERNATIONAL) & np.isin(kind, np.array(_DOMESTIC, dtype=np.int32)),
                Outcome.REJECT,
                "spoof:domestic_via_international",
            ),
            ((ing == INTERCONNECT) & own, Outcome.REJECT, "spoof:own_number_via_interconnect"),
        ]
        intl = ing == INTERNATIONAL
        if intl.any():
            callee_flags = np.zeros(c.shape, dtype=np.uint8)
            callee_flags[intl] = snap.flags_many(e[intl])
            stages.append(((callee_flags & SUSPEND) > 0, Outcome.REJECT, "callee:barred"))
        if risk is not None:
            for i, rule in enumerate(snap.risk_prefixes):
                if rule.outcome is Outcome.REJECT:
                    stages.append((risk == i, Outcome.REJECT, "prefix:" + rule.code))
        final: list[tuple[Outcome, tuple[str, ...]] | None] = [None] * int(c.size)
        done = np.zeros(c.shape, dtype=bool)
        for mask, outcome, code in stages:
            hit = mask & ~done
            if not hit.any():
                continue
            result = (outcome, (code,))
            for i in np.flatnonzero(hit).tolist():
                final[i] = result
            done |= hit
        return final

    def _finish(
        self,
        snap: Snapshot,
        flags: U8,
        c: I64,
        e: I64,
        final: list[tuple[Outcome, tuple[str, ...]] | None],
        now: float,
    ) -> list[tuple[Outcome, tuple[str, ...]]]:
        """The stages after the spoof rules, per call in order (velocity counts in order)."""
        soft = SUSPEND | VERIFY | WATCH | GREY
        f = flags.tolist()
        risk = snap.risk_table.lookup_many(c).tolist() if snap.risk_prefixes else None
        # Protection matters only for warned callers: look up only their callees.
        warned = np.flatnonzero((flags & (SUSPEND | VERIFY | WATCH)) > 0)
        protected = dict.fromkeys(
            warned[(snap.flags_many(e[warned]) & PROTECTED) > 0].tolist(), True
        ) if warned.size else {}
        cl, el = c.tolist(), e.tolist()
        observe = self._observe
        label, reject = Outcome.LABEL, Outcome.REJECT
        results: list[tuple[Outcome, tuple[str, ...]]] = []
        append = results.append
        for i, pre in enumerate(final):
            if pre is not None:
                append(pre)
            elif not f[i] & soft and risk is None:
                level, vcode = observe(cl[i], el[i], now)  # the common case: only velocity
                if not level:
                    append(_ALLOWED)
                else:
                    append((reject if level == REJECT else label, (vcode,)))
            else:
                append(self._soft(snap, f[i], risk[i] if risk else -1, i in protected,
                                  cl[i], el[i], now))
        return results

    def _soft(
        self, snap: Snapshot, fi: int, rule: int, protected: bool, c: int, e: int, now: float
    ) -> tuple[Outcome, tuple[str, ...]]:
        """The stages after the spoof rules, for a caller with flags or when prefix rules exist:
        ``rule`` is the matching risk-prefix rule (-1: none), ``protected`` whether the callee
        is protected."""
        outcome = Outcome.ALLOW
        reasons: tuple[str, ...] = ()
        if rule >= 0:
            r = snap.risk_prefixes[rule]
            if r.outcome is Outcome.REJECT:
                return Outcome.REJECT, ("prefix:" + r.code,)
            outcome, reasons = r.outcome, ("prefix:" + r.code,)
        if fi & GREY:
            outcome, reasons = _gather(outcome, reasons, Outcome.LABEL, "list:grey")
        if fi & (SUSPEND | VERIFY | WATCH):
            for bit, tier_outcome, code in self._tiers:
                if fi & bit:
                    if tier_outcome is Outcome.REJECT:
                        return Outcome.REJECT, (*reasons, code)
                    outcome, reasons = _gather(outcome, reasons, tier_outcome, code)
                    break
            if e > 0 and protected:
                outcome, reasons = _gather(
                    outcome, reasons, Outcome.WARN_CALLEE, "victim:protected"
                )
        level, vcode = self.velocity.observe(c, e, now)
        if level == REJECT:
            return Outcome.REJECT, (*reasons, vcode)
        if level:
            outcome, reasons = _gather(outcome, reasons, Outcome.LABEL, vcode)
        return outcome, reasons

    def _count(self, results: list[tuple[Outcome, tuple[str, ...]]]) -> None:
        """Count a batch's outcomes and reasons (a few distinct results: count those)."""
        outcomes, rs = self.outcomes, self._reason_sets
        for (outcome, reasons), k in Counter(results).items():
            outcomes[outcome] += k
            if reasons:
                rs[reasons] = rs.get(reasons, 0) + k

    def _log_batch(
        self,
        snap: Snapshot,
        callers: Sequence[str],
        callees: Sequence[str],
        ing: npt.NDArray[np.int8],
        decisions: list[Decision],
        now: float,
    ) -> None:
        sink = self.decision_log
        if sink is None:
            return
        for i, d in enumerate(decisions):
            if d.outcome is not Outcome.ALLOW or self.config.log_allowed:
                sink.append(
                    DecisionRecord(d.id, now, callers[i], callees[i], INGRESS[int(ing[i])],
                                   d.outcome, d.reasons, snap.version)
                )


def _ingress_codes(ingress: Sequence[str] | str, n: int) -> npt.NDArray[np.int8]:
    """Ingress codes for a batch; an unknown name is an InvalidInput that lists the names."""
    if isinstance(ingress, str):
        return np.full(n, ingress_code(ingress), dtype=np.int8)
    get = _INGRESS_CODE.get
    codes = [get(x, -1) for x in ingress]
    if -1 in codes:
        ingress_code(ingress[codes.index(-1)])  # raises, naming the bad value
    return np.array(codes, dtype=np.int8)


def _gather(
    outcome: Outcome, reasons: tuple[str, ...], new: Outcome, code: str
) -> tuple[Outcome, tuple[str, ...]]:
    """Add a non-final finding: keep every reason, keep the stronger outcome."""
    return (new if new.rank > outcome.rank else outcome), (*reasons, code)
