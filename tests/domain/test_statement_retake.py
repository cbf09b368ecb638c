"""The near miss that earns a video statement retake, and the statement rule around it: a
recogniser's slip on one tail digit with the rest heard asks for a second recording; a far tail,
silence, a statement naming someone else, or a poor one does not; the retake is judged as
strictly as the first recording, and is final."""

from __future__ import annotations

import pytest

from telshield.domain.errors import InvalidInput
from telshield.domain.registrations import Decision, statement_rule
from telshield.domain.statement import StatementCheck, StatementPolicy, near_miss, tail_edits
from telshield.services.statement import match

P = StatementPolicy()
SAID = "我本人实名登记并领取了尾号{}的电话卡"


def heard(tail_said: str, last4: str = "1654", policy: StatementPolicy = P) -> StatementCheck:
    return match(SAID.format(tail_said), policy, last4)


@pytest.mark.parametrize(("a", "b", "n"), [
    ("1654", "1654", 0), ("1754", "1654", 1), ("11930", "1930", 1), ("193", "1930", 1),
    ("", "1930", 4), ("4561", "1654", 4), ("6154", "1654", 2)])
def test_tail_edits(a: str, b: str, n: int) -> None:
    assert tail_edits(a, b) == n


def test_one_tail_digit_off_with_the_rest_heard_is_a_near_miss() -> None:
    c = heard("1754")
    assert not c.passed and c.score >= 0.9 and near_miss(c, P)
    assert near_miss(heard("一一九三零", "1930"), P)  # a digit said twice
    rule = statement_rule(c, P)
    assert [(r.code, r.decision) for r in rule] == [("statement_retake", Decision.RETAKE)]
    assert "retake_transcript" in rule[0].text and "the number ends 1654" in rule[0].text


def test_what_is_not_a_near_miss() -> None:
    assert not near_miss(heard("1654"), P)  # passed: nothing to retake
    assert not near_miss(heard("8642"), P)  # another card's tail, far from this one
    assert not near_miss(heard("6154"), P)  # two digits swapped: two edits
    silent = match("嗯", P, "1654")
    assert silent.silent and not near_miss(silent, P)
    other = match("我替张三实名登记并领取了尾号1754的电话卡", P, "1654")
    assert other.contradicted and not near_miss(other, P)
    poor = match("登记尾号1754", P, "1654")  # one digit off, most of the sentence missing
    assert poor.score < 0.9 and not near_miss(poor, P)
    assert not near_miss(heard("1754"), StatementPolicy(retake=False))
    assert not near_miss(heard("1754"), StatementPolicy(retake_tail_edits=0))
    assert near_miss(heard("6154"), StatementPolicy(retake_tail_edits=2))
    with pytest.raises(InvalidInput, match="statement_retake_score"):
        StatementPolicy(retake_score=0)
    with pytest.raises(InvalidInput, match="statement_retake_tail_edits"):
        StatementPolicy(retake_tail_edits=3)


def test_only_one_retake_is_asked() -> None:
    rule = statement_rule(heard("1754"), P, retake_asked=True)
    assert [(r.code, r.decision) for r in rule] == [("statement_mismatch", Decision.VERIFY)]


def test_the_retake_is_judged_strictly_and_is_final() -> None:
    first = heard("1754")
    assert statement_rule(first, P, retake=heard("幺六五四")) == []
    again = statement_rule(first, P, retake=heard("1754"))  # the same slip, or a mule's tail
    assert [(r.code, r.decision) for r in again] == [("statement_mismatch", Decision.VERIFY)]
    assert "retaken video statement does not match either" in again[0].text
    # A near miss on the retake earns no third recording.
    assert again == statement_rule(first, P, retake=heard("1754"), retake_asked=True)
    silent = statement_rule(first, P, retake=match("", P, "1654"))
    assert [r.code for r in silent] == ["statement_missing"]
    refuse = StatementPolicy(refuse_on_fail=True)
    assert statement_rule(first, refuse, retake=heard("1754"))[0].decision is Decision.REFUSE
    assert statement_rule(first, refuse)[0].decision is Decision.RETAKE


def test_retake_ranks_between_allow_and_verify() -> None:
    assert Decision.ALLOW.weight < Decision.RETAKE.weight < Decision.VERIFY.weight \
        < Decision.REFUSE.weight
