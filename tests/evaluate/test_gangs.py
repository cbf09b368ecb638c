"""Judging found gangs against truth: recovered means one found gang holds more than half of a
true gang's cards; precision counts cards outside every true gang; the staff ranking counts
counter cards only."""

from __future__ import annotations

from datetime import datetime

from telshield.domain.gangs import Gang, GangMember, Signals
from telshield.evaluate.gangs import judge

T = datetime(2026, 11, 1)
S = Signals(cards=0, ids=0, bulk_share=0, cross_share=0, flagged_share=0, staff_hour_max=0,
            cards_per_id_max=0)


def gang(*cards: tuple[str, str]) -> Gang:
    return Gang(score=0.8, links=(), signals=S, found_at=T, updated_at=T,
                members=tuple(GangMember(m, "h", "CH", s, T) for m, s in cards))


def test_judge() -> None:
    truth = [{"gang_id": "GANG-0001", "msisdns": ["1", "2", "3", "4"], "staff_ids": ["S1"]},
             {"gang_id": "GANG-0002", "msisdns": ["5", "6", "7", "8"], "staff_ids": ["S2"]}]
    found = [gang(("1", "S1"), ("2", "S1"), ("3", ""), ("9", "S9")),  # 3 of 4 and an honest one
             gang(("5", "S2"), ("6", "S2"))]  # half is not most
    r = judge(found, truth)
    assert (r.recovered, r.true_gangs) == (1, 2)
    assert r.member_precision == 5 / 6 and r.cards_recalled == 5
    assert r.top_staff == (("S1", 2, True), ("S2", 2, True), ("S9", 1, False))
    assert (r.colluding_in_top, r.staff_judged, r.staff_in_top) == (2, 2, 2)
    assert [p[3] for p in r.per_gang] == [True, False]
