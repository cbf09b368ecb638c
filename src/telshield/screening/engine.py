"""The decision function: one call set-up in, allow / label / warn-callee / reject out, with
reason codes and a decision id.

Order: malformed caller → police-ordered block → whitelist → barred device class (the caller's
IMEI TAC is a known GOIP / SIM-bank TAC; only when the caller IMEI is given) → blacklist →
spoofed caller ID →
high-risk prefixes → grey list → numbers under warning (by tier) → protected callee → velocity.
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
from telshield.screening.numbering import I64, Kind, parse_numbers
from telshield.screening.snapshot import (
    BLACK,
    GREY,
    POLICE,
    PROTECTED,
    SUSPEND,
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


class Decision(msgspec.Struct, frozen=True, gc=False):
    """What was decided for one call, why, and the id to quote in an appeal."""

    id: str
    outcome: Outcome
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class EngineConfig:
    """How the engine decides; built from ``ScreeningSettings`` by the edges."""

    max_age_s: float = 3 * 3600.0
    fail_open: bool = True
    tier_outcomes: Mapping[Tier, Outcome] = field(
        default_factory=lambda: {
            Tier.SUSPEND: Outcome.REJECT,
            Tier.VERIFY: Outcome.WARN_CALLEE,
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
        self.reasons: Counter[str] = Counter()
        self._log_allowed = self.config.log_allowed
        self._observe = self.velocity.observe
        self.fail_open_count = 0
        tiers = self.config.tier_outcomes
        # Tier bit -> (outcome, reason), strongest tier first.
        self._tiers = (
            (SUSPEND, tiers[Tier.SUSPEND], "warning:suspend"),
            (VERIFY, tiers[Tier.VERIFY], "warning:verify"),
            (WATCH, tiers[Tier.WATCH], "warning:watch"),
        )

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

    def _next_id(self) -> str:
        self._seq += 1
        return f"{self._node}{self._seq:x}"

    def _unusable(self, snap: Snapshot | None, now: float) -> str:
        if snap is None:
            reason = "snapshot:missing"
        elif now - snap.as_of > self.config.max_age_s:
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
        if snap is None or now - snap.as_of > self.config.max_age_s:
            outcome, reasons = Outcome.ALLOW, (self._unusable(snap, now),)
        else:
            # Inline parse_number: this is the hot path.
            ok_c = caller.isdigit() and caller.isascii() and 2 < len(caller) < 16
            ok_e = callee.isdigit() and callee.isascii() and 2 < len(callee) < 16
            c = int(caller) if ok_c and caller[0] != "0" else -1
            e = int(callee) if ok_e and callee[0] != "0" else -1
            outcome, reasons = self._decide(snap, caller, c, e, ing, now, caller_imei)
        self._seq += 1
        d = Decision(f"{self._node}{self._seq:x}", outcome, reasons)
        self.outcomes[outcome] += 1
        if reasons:
            self.reasons.update(reasons)
        if self.decision_log is not None and (outcome is not Outcome.ALLOW or self._log_allowed):
            self.decision_log.append(
                DecisionRecord(d.id, now, caller, callee, INGRESS[ing], outcome, reasons,
                               snap.version if snap else "")
            )
        return d

    def _decide(
        self, snap: Snapshot, text: str, c: int, e: int, ing: int, now: float,
        imei: str | None = None,
    ) -> tuple[Outcome, tuple[str, ...]]:
        if c < 0:
            return _R_MALFORMED
        f = snap.flags_of(c) if c in snap.listed else 0
        if snap.has_list_prefixes:
            f |= snap.list_prefixes.lookup(text)
        if f & (POLICE | WHITE):
            return _R_POLICE if f & POLICE else _R_WHITE
        if imei:
            device = snap.tac_reason(imei_tac(imei))
            if device:
                return Outcome.REJECT, (device,)
        if f & BLACK:
            return _R_BLACK
        if c == e and ing != RADIO:  # our own subscriber calling itself is voicemail
            return _R_SELF
        plan = snap.plan
        kind = plan.kinds.lookup(text)
        if kind == Kind.UNALLOCATED:
            return _R_UNALLOCATED
        if ing == INTERNATIONAL and kind in _DOMESTIC:
            return _R_INTERNATIONAL
        if ing == INTERCONNECT and plan.own.lookup(text) == 1:
            return _R_OWN
        if f or snap.risk_prefixes:
            rule = snap.risk_table.lookup(text) if snap.risk_prefixes else -1
            warned = f & (SUSPEND | VERIFY | WATCH)
            protected = bool(warned) and e > 0 and e in snap.listed and bool(
                snap.flags_of(e) & PROTECTED
            )
            return self._soft(snap, f, rule, protected, c, e, now)
        level, code = self._observe(c, e, now)
        if not level:
            return _ALLOWED
        return (Outcome.REJECT if level == REJECT else Outcome.LABEL), (code,)

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
        if isinstance(ingress, str):
            ing = np.full(n, ingress_code(ingress), dtype=np.int8)
        else:
            ing = np.fromiter((ingress_code(x) for x in ingress), dtype=np.int8, count=n)
        if snap is None or now - snap.as_of > self.config.max_age_s:
            reason = self._unusable(snap, now)
            self.fail_open_count += n - 1
            ds = [Decision(self._next_id(), Outcome.ALLOW, (reason,)) for _ in range(n)]
            self.outcomes[Outcome.ALLOW] += n
            self.reasons[reason] += n
            return ds
        c = parse_numbers(callers)
        e = parse_numbers(callees)
        tacs = imei_tacs(caller_imeis) if caller_imeis is not None else None
        final = self._pre_stages(snap, callers, c, e, ing, tacs)
        return self._finish(snap, callers, callees, c, e, ing, final, now)

    def _pre_stages(
        self, snap: Snapshot, texts: Sequence[str], c: I64, e: I64, ing: npt.NDArray[np.int8],
        tacs: I64 | None = None,
    ) -> list[tuple[Outcome, tuple[str, ...]] | None]:
        """The stages that end a decision at once (rejects, whitelist), vectorised."""
        f = snap.flags_many(c)
        if len(snap.list_prefixes):
            f |= snap.list_prefixes.lookup_many(c).astype(np.uint8)
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
        if risk is not None:
            for i, rule in enumerate(snap.risk_prefixes):
                if rule.outcome is Outcome.REJECT:
                    stages.append((risk == i, Outcome.REJECT, "prefix:" + rule.code))
        final: list[tuple[Outcome, tuple[str, ...]] | None] = [None] * len(texts)
        done = np.zeros(c.shape, dtype=bool)
        for mask, outcome, code in stages:
            hit = mask & ~done
            result = (outcome, (code,))
            for i in np.flatnonzero(hit).tolist():
                final[i] = result
            done |= hit
        return final

    def _finish(
        self,
        snap: Snapshot,
        callers: Sequence[str],
        callees: Sequence[str],
        c: I64,
        e: I64,
        ing: npt.NDArray[np.int8],
        final: list[tuple[Outcome, tuple[str, ...]] | None],
        now: float,
    ) -> list[Decision]:
        f = snap.flags_many(c).tolist()
        risk = snap.risk_table.lookup_many(c).tolist() if snap.risk_prefixes else None
        protected = ((snap.flags_many(e) & PROTECTED) > 0).tolist()
        cl, el = c.tolist(), e.tolist()
        observe = self.velocity.observe
        soft = SUSPEND | VERIFY | WATCH | GREY
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
                    append((Outcome.REJECT if level == REJECT else Outcome.LABEL, (vcode,)))
            else:
                append(self._soft(snap, f[i], risk[i] if risk else -1, protected[i],
                                  cl[i], el[i], now))
        first = self._seq + 1
        self._seq += len(results)
        node = self._node
        out = [
            Decision(f"{node}{first + k:x}", o, r) for k, (o, r) in enumerate(results)
        ]
        self._count_and_log(snap, callers, callees, ing, out, now)
        return out

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

    def _count_and_log(
        self,
        snap: Snapshot,
        callers: Sequence[str],
        callees: Sequence[str],
        ing: npt.NDArray[np.int8],
        decisions: list[Decision],
        now: float,
    ) -> None:
        for d in decisions:
            self.outcomes[d.outcome] += 1
        for d in decisions:
            if d.reasons:
                self.reasons.update(d.reasons)
        sink = self.decision_log
        if sink is None:
            return
        for i, d in enumerate(decisions):
            if d.outcome is not Outcome.ALLOW or self.config.log_allowed:
                sink.append(
                    DecisionRecord(d.id, now, callers[i], callees[i], INGRESS[int(ing[i])],
                                   d.outcome, d.reasons, snap.version)
                )


def _gather(
    outcome: Outcome, reasons: tuple[str, ...], new: Outcome, code: str
) -> tuple[Outcome, tuple[str, ...]]:
    """Add a non-final finding: keep every reason, keep the stronger outcome."""
    return (new if new.rank > outcome.rank else outcome), (*reasons, code)
