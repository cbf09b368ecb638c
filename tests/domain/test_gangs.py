"""The gang score law: bulk opening and cross-ID links make a gang, size and openers gate it,
later flags raise it; bad settings and gang references are refused clearly."""

from __future__ import annotations

import pytest

from telshield.domain.errors import InvalidInput
from telshield.domain.gangs import ScoreRule, Signals, gang_ref, parse_gang_ref


def sig(cards: int = 12, openers: int = 4, bulk: float = 1.0, cross: float = 0.8,
        flagged: float = 0.0) -> Signals:
    return Signals(cards=cards, ids=openers, bulk_share=bulk, cross_share=cross,
                   flagged_share=flagged, staff_hour_max=2, cards_per_id_max=3,
                   openers=openers)


@pytest.mark.parametrize(("signals", "gang"), [
    (sig(), True),  # several openers, several cards each, tied across IDs
    (sig(bulk=0.0, cross=1.0, openers=0), False),  # a family at one address, an office's NAT
    (sig(openers=2), False),  # one or two people with several cards: not a gang
    (sig(cards=4), False),  # too small
    (sig(bulk=1.0, cross=0.0), False),  # openers that share nothing: 0.45 < 0.5
    (sig(bulk=1.0, cross=0.0, flagged=0.3), True),  # ... unless their cards were flagged since
])
def test_what_makes_a_gang(signals: Signals, gang: bool) -> None:
    assert ScoreRule().is_gang(signals) is gang


def test_score_is_a_weighted_share() -> None:
    r = ScoreRule()
    assert r.score(sig(bulk=1.0, cross=1.0, flagged=1.0)) == pytest.approx(1.0)
    assert r.score(sig(bulk=1.0, cross=0.5)) == pytest.approx((0.45 + 0.175) / 1.0)
    assert r.score(sig(flagged=0.15)) > r.score(sig())


def test_bad_settings_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"\[gangs\]"):
        ScoreRule(bulk=-1)
    with pytest.raises(InvalidInput, match="min_openers"):
        ScoreRule(min_openers=0)


def test_gang_references() -> None:
    assert gang_ref(12) == "GANG-000012"
    assert parse_gang_ref("GANG-000012") == parse_gang_ref("12") == 12
    with pytest.raises(InvalidInput, match="gangs list"):
        parse_gang_ref("x")
