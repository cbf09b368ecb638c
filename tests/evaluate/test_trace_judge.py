"""The trace judge: the share of a group's other numbers in a trace's top 20, and, for a number
in two groups (a gang's card sold on to a den), the share over all its groups' numbers."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from telshield.evaluate.trace import TOP, judge

GANG = [f"86139000000{i:02d}" for i in range(10)]  # ten cards
DEN = [GANG[0], *(f"86138000000{i:02d}" for i in range(30))]  # the first card, 30 den SIMs


def _world(root: Path) -> Path:
    (root / "truth").mkdir(parents=True)
    pq.write_table(pa.table({"den_id": ["DEN-0001"], "kind": ["goip"], "msisdns": [DEN]}),
                   root / "truth" / "dens.parquet")
    pq.write_table(pa.table({"gang_id": ["GANG-0001"], "msisdns": [GANG]}),
                   root / "truth" / "gangs.parquet")
    return root


def test_a_number_in_two_groups_is_judged_on_each_and_on_both(tmp_path: Path) -> None:
    world = _world(tmp_path / "w")

    def top(n: str) -> list[str]:  # the gang's other cards first, then den SIMs, then others
        if n == GANG[0]:
            return [*GANG[1:], *DEN[1:], "8613700000000"]
        return [m for m in GANG if m != n] + ["8613700000001"]

    cases = {(c.group, c.number): c for c in judge(world, top, per_group=40)}  # all of them
    card = cases[("GANG-0001", GANG[0])]
    assert (card.others, card.hits, card.also) == (9, 9, ("DEN-0001",))
    assert card.share == 1.0
    # its top 20: the 9 other cards and 11 den SIMs, all numbers of its two groups
    assert (card.mates, card.mate_hits, card.share_any) == (39, TOP, 1.0)
    as_den = cases[("DEN-0001", GANG[0])]
    assert (as_den.others, as_den.hits) == (30, 11)
    assert as_den.share == 11 / TOP  # strictly, under the bar
    assert as_den.share_any == 1.0  # on all its groups, met
    other = cases[("GANG-0001", GANG[3])]  # a card in the gang only
    assert other.also == () and other.share == other.share_any == 1.0
    den_sim = next(c for (g, n), c in cases.items() if g == "DEN-0001" and n != GANG[0])
    assert den_sim.also == () and den_sim.hits == 1  # of the den, its trace found the card only
