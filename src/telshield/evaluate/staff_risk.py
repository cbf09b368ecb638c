"""The staff risk ranking judged against the simulator's truth: where the staff IDs that
colluded with card-trafficking gangs (truth table ``gangs``, column ``staff_ids``) rank.

The ranking never sees this table; it is read here only, after the ranking was computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from telshield.domain.errors import InvalidInput
from telshield.domain.regrisk import RiskRow


def colluding_staff(world: Path) -> dict[str, str]:
    """Staff ID -> the gang it opened cards for (the first, if several)."""
    path = world / "truth" / "gangs.parquet"
    if not path.exists():
        raise InvalidInput(f"no gang truth at {path}; give a folder written by "
                           "`telshield world generate`")
    out: dict[str, str] = {}
    for g in pq.read_table(path, columns=["gang_id", "staff_ids"]).to_pylist():
        for s in g["staff_ids"] or ():
            out.setdefault(str(s), str(g["gang_id"]))
    return out


def gang_cards(world: Path) -> dict[str, frozenset[str]]:
    """Gang ID -> the numbers opened for it."""
    path = world / "truth" / "gangs.parquet"
    return {str(g["gang_id"]): frozenset(map(str, g["msisdns"] or ()))
            for g in pq.read_table(path, columns=["gang_id", "msisdns"]).to_pylist()}


@dataclass(frozen=True)
class StaffRiskReport:
    """Where the colluding staff IDs rank."""

    top: int
    ranked: int  # staff IDs in the ranking (at least the minimum count)
    colluding: int  # colluding staff IDs in the truth
    colluding_ranked: int  # ... of them in the ranking at all
    in_top: int  # colluding staff IDs among the top ``top``
    gangs: int
    gangs_in_top: int  # gangs with at least one of their staff IDs in the top ``top``
    ranks: dict[str, int]  # colluding staff ID -> its rank (1 = riskiest); absent: unranked
    share_verify: float = 1.0  # the check's threshold on the lower bound
    flagged: int = 0  # ranked staff IDs above it: their applications would be verified
    flagged_colluding: int = 0
    # Gangs any of whose cards had gone bad (alerted, clued, confirmed) by the evaluation, and
    # of those, how many have a staff ID in the top: outcomes are the ranking's only evidence.
    gangs_with_signal: int = 0
    gangs_with_signal_in_top: int = 0

    @property
    def top_precision(self) -> float:
        """The share of the top ``top`` that colluded."""
        return self.in_top / min(self.top, self.ranked) if self.ranked else 0.0


def judge(ranked: Sequence[RiskRow], colluding: Mapping[str, str], *, top: int = 10,
          share_verify: float = 1.0, bad_cards: Mapping[str, int] | None = None
          ) -> StaffRiskReport:
    """Compare a staff ranking (riskiest first) with the colluding staff IDs (``bad_cards``:
    gang ID -> how many of its cards had gone bad)."""
    ranks = {r.key: i + 1 for i, r in enumerate(ranked) if r.key in colluding}
    best: dict[str, int] = {}
    for s, n in ranks.items():
        g = colluding[s]
        best[g] = min(best.get(g, n), n)
    signal = {g for g, n in (bad_cards or {}).items() if n > 0}
    return StaffRiskReport(
        top=top, ranked=len(ranked), colluding=len(colluding), colluding_ranked=len(ranks),
        in_top=sum(1 for n in ranks.values() if n <= top), gangs=len(set(colluding.values())),
        gangs_in_top=sum(1 for n in best.values() if n <= top), ranks=ranks,
        share_verify=share_verify, flagged=sum(1 for r in ranked if r.lower > share_verify),
        flagged_colluding=sum(1 for r in ranked if r.lower > share_verify
                              and r.key in colluding),
        gangs_with_signal=len(signal),
        gangs_with_signal_in_top=sum(1 for g in signal if best.get(g, top + 1) <= top))
