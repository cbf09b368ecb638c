"""The video statement check and its retake, on a simulated province's transcripts, without the
rest of the registration check (``evaluate.registrations`` replays the whole check).

Every application's first recording (the ``registrations`` feed) is matched as the check
matches it; a near miss is judged again on the same applicant's second recording
(``truth/registration_retakes.parquet``), strictly, as the check would after a ``retake``
answer. Truth (``truth/registrations.parquet``) says only who read what, for the judging.

The retake's risk is a mule reading a neighbouring card's tail: gangs open consecutive numbers,
so the number one above or below the one applied for is what a mule with the wrong card in hand
reads, and that is one digit off — the near miss the retake exists for. The simulator does not
open consecutive numbers, so this evaluation makes those mules: for every application with a
statement, a reader of the next (and the previous) number's tail, said twice (the first
recording and the retake) through the simulator's own recogniser with fresh errors each time.
They get through only where the recogniser turns the neighbour's tail into the right one.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from telshield.domain.errors import InvalidInput
from telshield.domain.registrations import Decision, statement_rule
from telshield.domain.statement import StatementCheck, StatementPolicy
from telshield.services.statement import match
from telshield.world.config import WorldConfig
from telshield.world.transcripts import STATEMENT, recognise

MISMATCHES = ("wrong_digits", "other_text", "partial", "silence")


@dataclass
class StatementReport:
    """What ``telshield evaluate statement-retake`` prints: (hits, of) pairs."""

    honest_first: tuple[int, int] = (0, 0)  # honest transcripts passing the first recording
    honest_retake: tuple[int, int] = (0, 0)  # ... passing with the retake
    mismatch_fail: tuple[int, int] = (0, 0)  # mismatches failing with the retake
    mismatch_fail_by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)
    retakes: dict[str, int] = field(default_factory=dict)  # statement kind -> retakes asked
    # neighbour ("next", "previous") -> mules, asked a retake, passing (first, with retake),
    # and passing were one tail digit off accepted (no retake)
    neighbours: dict[str, dict[str, int]] = field(default_factory=dict)


def _outcome(first: StatementCheck, retake: str | None, policy: StatementPolicy,
             last4: str) -> tuple[bool, bool]:
    """(a retake was asked, the statement passed in the end) as the check would decide."""
    reasons = statement_rule(first, policy)
    if not any(r.decision is Decision.RETAKE for r in reasons):
        return False, not reasons
    second = match(retake or "", policy, last4)
    return True, not statement_rule(first, policy, retake=second)


def _config(world: Path) -> WorldConfig:
    meta = world / "world.json"
    if not meta.exists():
        raise InvalidInput(f"{world} has no world.json: give a folder written by "
                           "`telshield world generate`")
    return WorldConfig.model_validate(json.loads(meta.read_text())["config"])


def evaluate_statement(world: Path, policy: StatementPolicy, *, seed: int = 0, rounds: int = 4
                       ) -> StatementReport:
    """The statement check with its retake on ``world``'s transcripts, and neighbouring-card
    mules made with the world's recogniser (``seed``: their recognition errors; ``rounds``
    mules per number and neighbour)."""
    if rounds < 1:
        raise InvalidInput("rounds must be at least 1")
    retakes_file = world / "truth" / "registration_retakes.parquet"
    if not retakes_file.exists():
        raise InvalidInput(f"{world} has no truth/registration_retakes.parquet: regenerate it "
                           "with `telshield world generate`")
    cfg = _config(world)
    apps = pq.read_table(world / "registrations",
                         columns=["attempt_id", "requested_msisdn", "transcript"]).to_pylist()
    truth = {r["attempt_id"]: r["statement"] for r in pq.read_table(
        world / "truth" / "registrations.parquet", columns=["attempt_id", "statement"]
    ).to_pylist()}
    again = dict(zip(*pq.read_table(retakes_file, columns=["attempt_id", "retake_transcript"]
                                    ).to_pydict().values(), strict=True))
    report = StatementReport()
    hf, hr, mf = [0, 0], [0, 0], [0, 0]
    by_kind: dict[str, list[int]] = {}
    asked: Counter[str] = Counter()
    for a in apps:
        kind = truth[a["attempt_id"]]
        if a["transcript"] is None:
            continue
        last4 = str(a["requested_msisdn"])[-4:]
        first = match(a["transcript"], policy, last4)
        retaken, passed = _outcome(first, again.get(a["attempt_id"]), policy, last4)
        asked[kind] += retaken
        if kind == "honest":
            hf[0] += first.passed
            hf[1] += 1
            hr[0] += passed
            hr[1] += 1
        elif kind in MISMATCHES:
            mf[0] += not passed
            mf[1] += 1
            k = by_kind.setdefault(kind, [0, 0])
            k[0] += not passed
            k[1] += 1
    report.honest_first, report.honest_retake = (hf[0], hf[1]), (hr[0], hr[1])
    report.mismatch_fail = (mf[0], mf[1])
    report.mismatch_fail_by_kind = {k: (v[0], v[1]) for k, v in sorted(by_kind.items())}
    report.retakes = {k: v for k, v in sorted(asked.items()) if v}
    rng = np.random.default_rng([seed, 4101])
    numbers = [int(a["requested_msisdn"]) for a in apps if a["transcript"] is not None] * rounds
    for name, step in (("next", 1), ("previous", -1)):
        c: Counter[str] = Counter()
        for n in numbers:
            last4, read = f"{n % 10_000:04d}", f"{(n + step) % 10_000:04d}"
            said = STATEMENT.format(last4=read)
            first = match(recognise(rng, said, cfg.registrations)[0], policy, last4)
            retake = recognise(rng, said, cfg.registrations)[0]
            retaken, passed = _outcome(first, retake, policy, last4)
            c["mules"] += 1
            c["retake asked"] += retaken
            c["passed first"] += first.passed
            c["passed with retake"] += passed
            c["one digit off accepted"] += first.passed or (
                first.score >= policy.threshold and not first.contradicted
                and sum(x != y for x, y in zip(first.tail_heard, last4, strict=False)) <= 1
                and len(first.tail_heard) == 4)
        report.neighbours[name] = dict(c)
    return report
