"""The real-name video statement (实名视频声明): what the applicant must say, and what a check of
the recording found.

At the counter or in an e-channel app the applicant reads a fixed sentence on video, by default
"我本人实名登记并领取了尾号1234的电话卡" with the last four digits of the number applied for.
A card bought for someone else (a mule's card, the commonest route into fraud) shows here: the
reader names another card's tail, reads another text, or says nothing. The speech recogniser's
transcript is matched in ``services.statement`` (it needs pinyin and fuzzy alignment); this
module holds the wording, the policy and the result, which need nothing but the standard
library. The raw transcript is personal data: a result keeps only the score, the verdict and
the parts that did not match, which is what a clerk and an auditor need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telshield.domain.errors import InvalidInput

SLOT = "{last4}"
DEFAULT_WORDING = "我本人实名登记并领取了尾号{last4}的电话卡"
TRANSCRIPT_MAX = 2000  # characters: a statement is one sentence; a minute of speech fits


def check_wording(wording: str) -> str:
    """``wording`` if it holds the ``{last4}`` slot once and some text around it."""
    if wording.count(SLOT) != 1:
        raise InvalidInput("statement_wording must contain {last4} exactly once, where the "
                           "last four digits of the number applied for are read")
    if len(wording.replace(SLOT, "").strip()) < 4:
        raise InvalidInput("statement_wording needs a sentence around {last4}")
    return wording


def render(wording: str, last4: str) -> str:
    """The sentence the applicant must say for a number ending in ``last4``."""
    return wording.replace(SLOT, last4)


@dataclass(frozen=True)
class StatementPolicy:
    """The ``[registration]`` statement settings: the wording, the score that passes, whether
    every application must carry a statement, and whether a failed one is refused (else sent to
    extra verification: the clerk re-records it in person)."""

    wording: str = DEFAULT_WORDING
    threshold: float = 0.8
    required: bool = False
    refuse_on_fail: bool = False
    # The retake (a second recording) of a near miss: ``near_miss`` says which failed
    # statements get one.
    retake: bool = True
    retake_tail_edits: int = 1
    retake_score: float = 0.9

    def __post_init__(self) -> None:
        check_wording(self.wording)
        if not 0 < self.threshold <= 1:
            raise InvalidInput("statement_threshold must be in (0, 1]")
        if not 0 < self.retake_score <= 1:
            raise InvalidInput("statement_retake_score must be in (0, 1]")
        if not 0 <= self.retake_tail_edits <= 2:
            raise InvalidInput("statement_retake_tail_edits must be 0, 1 or 2")


@dataclass(frozen=True)
class Mismatch:
    """A part of the required sentence not heard as required: ``heard`` is what the transcript
    had in its place ('' when it was missing). ``expected`` is '' for words the applicant added
    that change the statement's meaning (a negation, someone else)."""

    expected: str
    heard: str

    def __str__(self) -> str:
        if not self.heard:
            return f"missing {self.expected!r}"
        if not self.expected:
            return f"added {self.heard!r}"
        return f"{self.expected!r} heard as {self.heard!r}"


@dataclass(frozen=True)
class StatementCheck:
    """What matching one transcript found: a score in [0, 1] (1: the required sentence,
    recognition errors forgiven), whether it passed, the tail digits heard, and the parts that
    did not match. ``silent``: nothing was said (an empty or filler-only transcript)."""

    score: float
    passed: bool
    tail_heard: str
    tail_expected: str
    mismatches: tuple[Mismatch, ...] = ()
    silent: bool = False
    added: int = 0  # characters heard beyond the sentence (after fillers are dropped)
    contradicted: bool = False  # someone else named, or the sentence negated

    @property
    def tail_ok(self) -> bool:
        """Whether the last four digits heard are those of the number applied for."""
        return self.tail_heard == self.tail_expected

    def summary(self) -> str:
        """The mismatched part in one line, for the clerk (not the transcript itself)."""
        if self.silent:
            return "nothing was said"
        parts = [] if self.tail_ok else [
            f"tail digits heard {self.tail_heard or 'none'}, the number ends {self.tail_expected}"]
        parts += [str(m) for m in self.mismatches]
        if not parts:
            parts = ["all parts heard"]
        if self.added:
            parts.append(f"{self.added} character(s) added")
        return "; ".join(parts)

    def audit(self) -> dict[str, Any]:
        """What the audit trail keeps of a statement: never the transcript."""
        return {"score": self.score, "passed": self.passed, "tail_ok": self.tail_ok,
                "silent": self.silent, "mismatch": self.summary()}


def tail_edits(heard: str, expected: str) -> int:
    """Digits to change, drop or insert to turn the tail heard into the number's (Levenshtein
    distance): 1754 for 1654 is one, 11930 for 1930 one, none heard four."""
    prev = list(range(len(expected) + 1))
    for i, h in enumerate(heard, 1):
        cur = [i]
        for j, e in enumerate(expected, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (h != e)))
        prev = cur
    return prev[-1]


def near_miss(check: StatementCheck, policy: StatementPolicy) -> bool:
    """Whether a failed statement earns one retake (a second recording, judged strictly): the
    policy allows retakes, something was said, nothing in it names someone else or negates the
    sentence, the tail heard is at most ``retake_tail_edits`` digit edits from the number's
    (a recogniser's slip on one digit, a digit said twice), and the whole statement, tail
    included, scores at least ``retake_score``. A mule reading another card's tail is a near
    miss too when the tails are neighbours; the retake catches that: it must be exact."""
    return (policy.retake and not check.passed and not check.silent and not check.contradicted
            and tail_edits(check.tail_heard, check.tail_expected) <= policy.retake_tail_edits
            and check.score >= policy.retake_score)
