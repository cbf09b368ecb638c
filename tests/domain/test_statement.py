"""The video statement's laws: a wording must place the tail, a threshold lies in (0, 1], and
the rule turns a missing, silent or failed statement into the decision the policy names."""

from __future__ import annotations

import pytest

from telshield.domain.errors import InvalidInput
from telshield.domain.registrations import Decision, statement_rule
from telshield.domain.statement import (
    DEFAULT_WORDING,
    Mismatch,
    StatementCheck,
    StatementPolicy,
    check_wording,
    render,
)

PASSED = StatementCheck(0.95, True, "1234", "1234")
FAILED = StatementCheck(0.71, False, "1234", "1234", (Mismatch("实名登记并", ""),))
WRONG_TAIL = StatementCheck(0.87, False, "5678", "1234")
SILENT = StatementCheck(0.0, False, "", "1234", silent=True)


def test_the_default_wording_renders_the_tail() -> None:
    assert render(DEFAULT_WORDING, "0571") == "我本人实名登记并领取了尾号0571的电话卡"


@pytest.mark.parametrize("wording", ["我本人实名登记并领取了电话卡", "尾号{last4}{last4}",
                                     "{last4}", "尾号{last_four}的卡"])
def test_a_wording_must_place_the_tail_once(wording: str) -> None:
    with pytest.raises(InvalidInput, match="statement_wording"):
        check_wording(wording)
    with pytest.raises(InvalidInput, match="statement_wording"):
        StatementPolicy(wording=wording)


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.01])
def test_the_threshold_lies_in_zero_one(threshold: float) -> None:
    with pytest.raises(InvalidInput, match=r"statement_threshold must be in \(0, 1\]"):
        StatementPolicy(threshold=threshold)
    assert StatementPolicy(threshold=1.0).threshold == 1.0


def test_no_statement_is_fine_unless_required() -> None:
    assert statement_rule(None, StatementPolicy()) == []
    [r] = statement_rule(None, StatementPolicy(required=True))
    assert (r.code, r.decision) == ("statement_missing", Decision.VERIFY)
    [r] = statement_rule(None, StatementPolicy(required=True, refuse_on_fail=True))
    assert r.decision is Decision.REFUSE


def test_a_silent_statement_is_missing_even_when_not_required() -> None:
    [r] = statement_rule(SILENT, StatementPolicy())
    assert r.code == "statement_missing" and "nothing was said" in r.text


def test_a_failed_statement_says_its_score_and_what_did_not_match() -> None:
    assert statement_rule(PASSED, StatementPolicy()) == []
    [r] = statement_rule(FAILED, StatementPolicy())
    assert (r.code, r.decision) == ("statement_mismatch", Decision.VERIFY)
    assert "score 0.71, 0.80 needed" in r.text and "missing '实名登记并'" in r.text
    [r] = statement_rule(WRONG_TAIL, StatementPolicy(refuse_on_fail=True))
    assert r.decision is Decision.REFUSE
    assert "tail digits heard 5678, the number ends 1234" in r.text


def test_the_audit_keeps_the_score_and_the_mismatch_only() -> None:
    assert FAILED.audit() == {"score": 0.71, "passed": False, "tail_ok": True, "silent": False,
                              "mismatch": "missing '实名登记并'"}
    assert WRONG_TAIL.audit()["tail_ok"] is False
    padded = StatementCheck(0.9, True, "1234", "1234", added=3)
    assert padded.audit()["mismatch"] == "all parts heard; 3 character(s) added"
