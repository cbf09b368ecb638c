"""Gang finding judged against the simulator's truth (``truth/gangs.parquet``).

The finder never reads truth; this module runs it on a simulated province with an empty store
(registration signals alone, unless the caller filled the store with alerts first) and compares:

- **recovered**: a true gang counts as recovered when one found gang holds more than half of
  its cards;
- **member precision**: the share of cards in found gangs that belong to some true gang;
- **colluding staff**: staff IDs ranked by the found gangs' cards they opened at a counter; how
  many of the top 10 are a gang's colluding staff, and for each true gang whether its colluding
  staff IDs that opened any of its cards are in the top 10.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from telshield.domain.errors import InvalidInput
from telshield.domain.gangs import Gang

TOP = 10


@dataclass(frozen=True)
class GangReport:
    """The figures ``telshield evaluate gangs`` prints."""

    true_gangs: int
    found_gangs: int
    recovered: int
    member_precision: float
    cards_found: int
    true_cards: int
    cards_recalled: int  # true gang cards inside some found gang
    top_staff: tuple[tuple[str, int, bool], ...]  # staff ID, found cards, colluding?
    colluding_in_top: int  # of the top staff IDs, how many collude with a gang
    staff_judged: int  # colluding staff IDs that opened found cards of their gang
    staff_in_top: int  # of those, how many are in the top
    per_gang: tuple[tuple[str, int, int, bool], ...] = field(default=())  # id, cards, best, ok

    @property
    def recovered_share(self) -> float:
        """Share of true gangs recovered."""
        return self.recovered / self.true_gangs if self.true_gangs else float("nan")


def read_truth(world: Path) -> list[dict[str, Any]]:
    """The true gangs of a simulated province."""
    path = world / "truth" / "gangs.parquet"
    if not path.exists():
        raise InvalidInput(f"{path} is missing; give a folder written by `telshield world "
                           "generate`")
    return pq.read_table(path).to_pylist()


def judge(found: Sequence[Gang], truth: Sequence[dict[str, Any]]) -> GangReport:
    """Compare found gangs (with members) with the true ones."""
    true_cards: dict[str, str] = {}
    colluding: dict[str, set[str]] = {}
    for g in truth:
        gid = str(g["gang_id"])
        for m in g["msisdns"]:
            true_cards[str(m)] = gid
        colluding[gid] = {str(s) for s in g["staff_ids"]}
    members = [{m.msisdn for m in f.members} for f in found]
    in_found = set().union(*members) if members else set()
    per_gang = []
    for g in truth:
        cards = {str(m) for m in g["msisdns"]}
        best = max((len(cards & s) for s in members), default=0)
        per_gang.append((str(g["gang_id"]), len(cards), best, 2 * best > len(cards)))
    staff = Counter(m.staff_id for f in found for m in f.members if m.staff_id)
    top = staff.most_common(TOP)
    all_colluding = set().union(*colluding.values()) if colluding else set()
    top_ids = {s for s, _ in top}
    # A colluding staff ID is judged if it opened any of its own gang's cards that were found.
    opened = {(true_cards[m.msisdn], m.staff_id) for f in found for m in f.members
              if m.msisdn in true_cards and m.staff_id}
    judged = {s for gid, s in opened if s in colluding.get(gid, set())}
    return GangReport(
        true_gangs=len(truth), found_gangs=len(found),
        recovered=sum(1 for p in per_gang if p[3]),
        member_precision=(len(in_found & true_cards.keys()) / len(in_found)
                          if in_found else float("nan")),
        cards_found=len(in_found), true_cards=len(true_cards),
        cards_recalled=len(in_found & true_cards.keys()),
        top_staff=tuple((s, n, s in all_colluding) for s, n in top),
        colluding_in_top=sum(1 for s, _ in top if s in all_colluding),
        staff_judged=len(judged), staff_in_top=len(judged & top_ids),
        per_gang=tuple(per_gang),
    )
