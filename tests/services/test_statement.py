"""The video statement matcher on hand-written transcripts: what an honest applicant's speech
recogniser writes (homophones, dropped and added characters, numerals every way they are said,
fillers, punctuation) passes; a mule's reading (another card's digits, another text, someone
else, a negation, half a sentence, silence) fails, and the clerk is told which part."""

from __future__ import annotations

import pytest

from telshield.domain.statement import Mismatch, StatementPolicy
from telshield.services.statement import match, normalise, numerals

POLICY = StatementPolicy()  # the default wording, threshold 0.8

HONEST = [
    ("我本人实名登记并领取了尾号1234的电话卡", "1234"),  # word for word
    ("我本人实名登记并领取了尾号一二三四的电话卡", "1234"),  # digits as characters
    ("我本人实名登记并领取了尾号幺二三四的电话卡", "1234"),  # 幺 for one
    ("我本人实名登记并领取了尾号一千二百三十四的电话卡", "1234"),  # as one number
    ("我本人实名登记并领取了尾号十二三十四的电话卡", "1234"),  # in pairs
    ("我本人时名登记并灵取了尾号1234的电话卡", "1234"),  # homophones 时名, 灵取
    ("我本人四名登记并拎取了尾号1234的电话卡", "1234"),  # southern shi/si, ling/lin
    ("我本人实名等级并令取了未号0571的电话卡", "0571"),  # 等级, 令取, 未号
    ("我本人实名登记并领取了尾号零五七幺的电话卡", "0571"),  # a leading zero said
    ("我本人实名登记并领取了尾号〇五七一的电话卡", "0571"),  # 〇 for zero
    ("嗯，我本人实名登记并领取了尾号8899的电话卡。", "8899"),  # filler and punctuation
    ("我 本人 实名 登记 并 领取 了 尾号 八 八 九 九 的 电话卡", "8899"),  # recogniser's spaces
    ("我本人实名登记领取了尾号8899的电话卡", "8899"),  # 并 dropped
    ("我本人实名登记并领取尾号8899电话卡", "8899"),  # 了 and 的 dropped
    ("我本人实名登记并且领取了尾号是8899的这张电话卡", "8899"),  # words added
    ("嗯那个，我本人，呃，实名登记并领取了，尾号7306的电话卡", "7306"),  # hesitations
    ("你好，我本人实名登记并领取了尾号七三零六的电话卡，谢谢", "7306"),  # greeting, thanks
    ("我本人已经实名登记并领取了尾号为七三洞六的电话卡", "7306"),  # 已经, 为, 洞 for zero
    ("我本人实名登记并领取了尾号 7 3 0 6 的电话卡", "7306"),  # digits spaced out
    ("我本人实名登记并领取了尾号７３０６的电话卡", "7306"),  # full-width digits
    ("本人实名登记并领取了尾号1010的电话卡", "1010"),  # the start clipped
    ("我本人实名登计并领娶了尾号幺零幺零的电话卡", "1010"),  # 登计, 领娶
    ("我本仁实名登记并领取了尾号一零一零的电化卡", "1010"),  # 本仁, 电化卡
    ("我本人实名登记，并领取了尾号5200的电话卡！", "5200"),
    ("我本人实名登记并领取了尾号五二零零的电话卡吧", "5200"),  # a trailing particle
    ("我本人实名登记并领取了尾号五千二百的电话卡", "5200"),  # as one number
    ("我本人实名登记并领取了尾号是五二零零号的电话卡", "5200"),  # 是 and 号 added
    ("我本人实命登记并领去了尾号5200的电话", "5200"),  # 实命, 领去, 卡 dropped
    ("我本人实名登机并领取了尾号5200的手机卡", "5200"),  # 登机; 手机卡 for 电话卡
    ("我本人实名登记并领取了尾号6688的电话卡啊", "6688"),
    ("不好意思，我本人实名登记并领取了尾号6688的电话卡，非常感谢", "6688"),  # courtesies
    ("你好，我叫王五，我本人实名登记并领取了尾号1357的电话卡", "1357"),  # a name given first
    ("我本人实名登记并领取了尾号一三五七的电话卡我本人实名登记并领取了尾号一三五七的电话卡",
     "1357"),  # said twice
    ("我本人实名登记并领取了尾号一三五七的电话卡，号码是一三八一二三四一三五七", "1357"),
]

MULE = [
    ("我本人实名登记并领取了尾号5678的电话卡", "1234"),  # another card's tail
    ("我本人实名登记并领取了尾号一二四三的电话卡", "1234"),  # digits out of order
    ("我本人实名登记并领取了尾号1235的电话卡", "1234"),  # one digit off
    ("我本人实名登记并领取了尾号8899的电话卡", "0571"),  # the card read before
    ("我本人实名登记并领取了尾号的电话卡", "1234"),  # no tail said
    ("今天天气很好我们去公园玩吧", "1234"),  # something else
    ("我同意本次业务办理的相关条款", "1234"),  # another text read out
    ("我本人实名登记", "1234"),  # half a sentence
    ("领取了尾号1234的电话卡", "1234"),  # the first person and real name left out
    ("尾号1234", "1234"),  # the digits alone
    ("我本人领取了尾号1234的电话卡", "1234"),  # 实名登记 left out
    ("我替张三实名登记并领取了尾号1234的电话卡", "1234"),  # on someone's behalf
    ("张三本人实名登记并领取了尾号1234的电话卡", "1234"),  # someone else's name
    ("他本人实名登记并领取了尾号1234的电话卡", "1234"),  # the third person
    ("我帮我朋友实名登记并领取了尾号1234的电话卡", "1234"),  # for a friend
    ("我本人没有实名登记并领取了尾号1234的电话卡", "1234"),  # negated
    ("我本人不是实名登记领取的尾号1234的电话卡", "1234"),  # negated
]

SILENT = ["", "   ", "嗯……啊", "，。！", "呃 那个"]


@pytest.mark.parametrize(("transcript", "last4"), HONEST)
def test_honest_statements_pass(transcript: str, last4: str) -> None:
    r = match(transcript, POLICY, last4)
    assert r.passed, (r.score, r.summary())
    assert r.tail_heard == last4 and r.tail_ok and not r.silent
    assert 0.8 <= r.score <= 1


@pytest.mark.parametrize(("transcript", "last4"), MULE)
def test_mules_fail(transcript: str, last4: str) -> None:
    r = match(transcript, POLICY, last4)
    assert not r.passed, (r.score, r.summary())
    assert 0 <= r.score <= 1 and not r.silent


@pytest.mark.parametrize("transcript", SILENT)
def test_silence_fails_with_its_own_reason(transcript: str) -> None:
    r = match(transcript, POLICY, "1234")
    assert r.silent and not r.passed and r.score == 0
    assert r.summary() == "nothing was said"


def test_the_counts_the_issue_asks_for() -> None:
    assert len(HONEST) >= 25 and len(MULE) + len(SILENT) >= 15
    assert len({t for t, _ in HONEST}) == len(HONEST)


def test_the_word_for_word_statement_scores_one() -> None:
    assert match("我本人实名登记并领取了尾号1234的电话卡", POLICY, "1234").score == 1.0
    # A recognition error costs nothing when it sounds the same, something when it does not.
    dropped = match("我本人实名登记领取了尾号1234的电话卡", POLICY, "1234").score
    assert 0.9 < dropped < 1.0


def test_the_clerk_is_told_the_tail_heard() -> None:
    r = match("我本人实名登记并领取了尾号5678的电话卡", POLICY, "1234")
    assert r.tail_heard == "5678" and not r.tail_ok
    assert "tail digits heard 5678, the number ends 1234" in r.summary()
    r = match("我本人实名登记并领取了这张电话卡", POLICY, "1234")
    assert r.tail_heard == "" and "tail digits heard none" in r.summary()


def test_the_clerk_is_told_which_words_were_missing_or_different() -> None:
    r = match("我本人领取了尾号1234的电话卡", POLICY, "1234")
    assert r.mismatches == (Mismatch("实名登记并", ""),)
    assert "missing '实名登记并'" in r.summary()
    r = match("张三本人实名登记并领取了尾号1234的电话卡", POLICY, "1234")
    assert r.mismatches == (Mismatch("我", "张三"),)
    assert "'我' heard as '张三'" in r.summary()
    r = match("我本人没有实名登记并领取了尾号1234的电话卡", POLICY, "1234")
    assert r.mismatches == (Mismatch("", "没有"),) and "added '没有'" in r.summary()
    # Words added that do not change the meaning are not reported.
    assert match("我本人已经实名登记并领取了尾号1234的电话卡", POLICY, "1234").mismatches == ()


def test_padding_alone_never_fails_a_full_statement() -> None:
    full = "我本人实名登记并领取了尾号1234的电话卡"
    r = match("今天天气很好我们去公园玩" * 3 + full, POLICY, "1234")
    assert r.passed and r.score == 0.85 and r.summary() == "all parts heard; 36 character(s) added"
    # ... but what is added still counts with what is missing.
    assert not match("今天天气很好我们去公园玩" * 3 + "我本人实名登记领取了尾号1234电话卡", POLICY,
                     "1234").passed


def test_the_tail_is_read_where_the_sentence_says_it() -> None:
    # Another number in the speech (a year) is not taken for the tail, and does not hide it.
    r = match("二零二六年我本人实名登记并领取了尾号1234的电话卡", POLICY, "1234")
    assert r.passed and r.tail_heard == "1234"
    r = match("我本人实名登记并领取了尾号4321的电话卡1234", POLICY, "1234")
    assert not r.passed and r.tail_heard == "4321"


def test_the_threshold_is_the_policy_s() -> None:
    transcript = "我本人实名登记并领取尾号1234电话卡"  # two characters dropped
    score = match(transcript, POLICY, "1234").score
    assert match(transcript, StatementPolicy(threshold=score), "1234").passed
    assert not match(transcript, StatementPolicy(threshold=1.0), "1234").passed


def test_the_operator_s_own_wording() -> None:
    policy = StatementPolicy(wording="本人承诺尾号{last4}的号码仅限本人使用，不转借他人")
    assert match("本人承诺尾号三三零八的号码仅限本人使用不转借他人", policy, "3308").passed
    # The wording's own negation is required text, not an added one.
    assert match("本人承诺尾号3308的号码仅限本人使用，不转借给他人", policy, "3308").passed
    assert not match("我本人实名登记并领取了尾号3308的电话卡", policy, "3308").passed
    # Words the operator's wording holds are required even where they are fillers elsewhere.
    policy = StatementPolicy(wording="我本人办理这个尾号{last4}的号码，就是本人使用")
    assert match("嗯我本人办理这个尾号3308的号码就是本人使用", policy, "3308").score == 1.0


@pytest.mark.parametrize(("said", "digits"), [
    ("一三八零", "1380"), ("幺三八零", "1380"), ("一千二百三十四", "1234"),
    ("十二三十四", "1234"), ("零一二三", "0123"), ("两千零一十二", "2012"), ("九五二七", "9527"),
    ("四十", "40"), ("1234", "1234"),
])
def test_numerals(said: str, digits: str) -> None:
    assert numerals(said) == digits


def test_a_lone_numeral_is_a_word() -> None:
    assert normalise("张三领取了一张卡") == "张三领取了一张卡"
    assert normalise("尾号：一二 三四。") == "尾号1234"
    assert normalise("嗯，尾号1234啊", fillers=True) == "尾号1234"


@pytest.mark.parametrize("transcript", [
    "我本人时名登记并灵取了尾号1234的电话卡", "我本人实名等级并令取了未号1234的电话卡",
    "我本人四名登记并拎取了尾号1234的电话卡", "我本仁实名登计并领娶了尾号1234的电化卡",
    "我本人实名登记并领取了尾号幺二三四的电话卡",
    "我，本人 实名登记，并领取了尾号十二三十四的电话卡",
])
def test_homophones_numerals_and_punctuation_cost_nothing(transcript: str) -> None:
    assert match(transcript, POLICY, "1234").score == 1.0
