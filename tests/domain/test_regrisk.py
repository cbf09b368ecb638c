"""The risk statistic and ranking, and the check's risk rule, as pure functions."""

from __future__ import annotations

from datetime import datetime

import pytest

from telshield.domain.errors import InvalidInput
from telshield.domain.registrations import (
    CheckRequest,
    Decision,
    Facts,
    Limits,
    judge,
    risk_rule,
)
from telshield.domain.regrisk import RiskBy, RiskRow, rank, wilson_lower


@pytest.mark.parametrize(("k", "n", "lower"), [
    (0, 0, 0.0), (0, 10, 0.0), (1, 1, 0.2065), (5, 10, 0.2366), (11, 24, 0.2789),
    (50, 100, 0.4038), (100, 100, 0.9630),
])
def test_wilson_lower_bound(k: int, n: int, lower: float) -> None:
    assert wilson_lower(k, n) == pytest.approx(lower, abs=1e-4)


def row(key: str, n: int, bad: int) -> RiskRow:
    return RiskRow(key, n, bad, 0, 0, bad)


def test_rank_puts_sure_risk_before_small_counts() -> None:
    rows = [row("one-of-one", 1, 1), row("many", 80, 40), row("few", 5, 3), row("clean", 90, 0),
            row("tie-b", 10, 5), row("tie-a", 10, 5)]
    assert [r.key for r in rank(rows, min_count=1)] == [
        "many", "tie-a", "tie-b", "few", "one-of-one", "clean"]  # 3/5: at least 23%
    assert [r.key for r in rank(rows, min_count=10)] == ["many", "tie-a", "tie-b", "clean"]
    with pytest.raises(InvalidInput, match="min_count"):
        rank(rows, min_count=0)


def test_risk_by_parse_names_the_choices() -> None:
    assert RiskBy.parse(" Staff ").column == "staff_id"
    with pytest.raises(InvalidInput, match=r"channel.*staff.*terminal"):
        RiskBy.parse("shop")


def test_risk_rule_needs_the_count_and_the_lower_bound() -> None:
    risky = row("ST-1", 24, 11)  # lower bound 0.279
    assert risk_rule("staff_risk", "staff ID", None, 0.2, 20) == []
    assert risk_rule("staff_risk", "staff ID", risky, 0.3, 20) == []  # not above 0.3
    assert risk_rule("staff_risk", "staff ID", risky, 0.2, 25) == []  # under the minimum
    (r,) = risk_rule("staff_risk", "staff ID", risky, 0.2, 20)
    assert r.decision is Decision.VERIFY and r.text.startswith("11 of 24 registrations")


def test_judge_adds_risk_reasons_but_never_refuses() -> None:
    req = CheckRequest.new(id_hash="9f" * 32, holder_kind="individual", channel_id="CH-1",
                           staff_id="ST-1", terminal_id="", msisdn="8613800000001")
    facts = Facts(frozenset(), 0, 0, 0, {}, channel_risk=row("CH-1", 100, 90),
                  staff_risk=row("ST-1", 100, 90))
    reasons = judge(req, facts, Limits(risk_share_verify=0.1), datetime(2026, 3, 1))
    assert [(r.code, r.decision) for r in reasons] == [("channel_risk", Decision.VERIFY),
                                                       ("staff_risk", Decision.VERIFY)]
    assert judge(req, facts, Limits(), datetime(2026, 3, 1)) == []  # off by default
