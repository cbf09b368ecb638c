"""The video statement check: a speech recogniser's transcript against the sentence the
applicant had to say (``domain.statement``).

Recognition errs in known ways, and an honest applicant must not pay for them:
- homophones (领取 written 灵取, 实名 written 时名): characters are compared by their pinyin
  without tones, through the common southern mergers (zh/z, ch/c, sh/s, n/l, -ng/-n);
- dropped or added characters, fillers (嗯, 那个), punctuation and spaces: the two sentences are
  aligned by edit distance over those sounds, a word added costing half a word missed;
- numbers said as digits, Chinese numerals, digit by digit with 幺 for one, or in pairs
  (十二三十四): every numeral run is turned into digits before anything is compared.

Fraud does not err that way. A mule reads for a card that is not theirs, so the last four
digits heard where the sentence places them must be exactly the number's; the first person
(我, 本人) weighs more than the rest of the sentence, and words that reverse it (不, 没, 替, 帮,
别人) fail the statement whatever else was heard. The score is the weight of the required
sentence heard, less the cost of what was added (capped: padding alone never fails a statement
said in full), over the sentence's weight.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Protocol

from telshield.domain.statement import SLOT, Mismatch, StatementCheck, StatementPolicy


class Transcriber(Protocol):
    """Speech to text: mono 16-bit PCM at ``sample_rate`` to the words heard."""

    def transcribe(self, audio: bytes, sample_rate: int) -> str:
        """The transcript of ``audio`` ('' when nothing was said)."""
        ...


_FILLERS = re.compile("那个|这个|就是|然后|[嗯啊呃额哦唔噢呀嘛吧哈诶欸]")
_KEEP = re.compile(r"[^0-9a-z\u3007\u4e00-\u9fff]+")
_DIGITS = {"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2",
           "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
_RUN = re.compile("[0-9零〇洞一幺二两三四五六七八九十百千万]+")
_PLACES = re.compile("[十百千万]")
# Two-digit numbers read as pairs (十二 三十四), or single digits.
_PAIR = re.compile("([一幺二两三四五六七八九])?十([一幺二三四五六七八九])?"
                   "|[0-9零〇洞一幺二两三四五六七八九]")
_FIRST_PERSON = ("本人", "我")
_ESSENTIAL = (*_FIRST_PERSON, "实名")
ESSENTIAL_WEIGHT = 3.0  # the first person and "real-name" carry the statement's meaning
INSERT_COST = 0.5  # a word added: honest speakers pad, so less than a word missed
# Padding costs at most this share of the sentence: a statement said in full (twice, or with a
# greeting and the whole number) is not failed for what is said around it.
PADDING_CAP = 0.15
REVERSING = ("没有", "别人", "他人", "不", "没", "未", "非", "替", "代", "帮")
REVERSING_COST = 3.0  # per character of an added word that reverses the sentence
# Courtesies that hold those characters and reverse nothing.
_COURTESIES = ("非常", "不好意思", "不客气", "没问题", "没关系")
_MERGE = (("zh", "z"), ("ch", "c"), ("sh", "s"))


def _pairs(run: str) -> str:
    def one(m: re.Match[str]) -> str:
        if "十" not in m.group(0):
            return _DIGITS.get(m.group(0), m.group(0))
        tens, units = m.group(1), m.group(2)
        return (_DIGITS[tens] if tens else "1") + (_DIGITS[units] if units else "0")
    return _PAIR.sub(one, run)


def numerals(run: str) -> str:
    """A run of numerals as digits: 一三八零 and 幺三八零 -> 1380, 一千二百三十四 -> 1234,
    十二三十四 -> 1234 (read in pairs). Leading zeros are kept (零一二三 -> 0123)."""
    if not _PLACES.search(run):
        return "".join(_DIGITS.get(c, c) for c in run)
    import cn2an  # imported when first needed: it loads its tables on import

    try:
        return str(int(cn2an.cn2an(run, "smart")))
    except (ValueError, KeyError):  # not one number: read in pairs, or not a number at all
        return _pairs(run)


def normalise(text: str, *, fillers: bool = False) -> str:
    """``text`` as compared: width and case folded, punctuation and spaces gone, numerals as
    digits, and (``fillers``) hesitation words dropped."""
    t = unicodedata.normalize("NFKC", text).lower()
    if fillers:
        t = _FILLERS.sub("", t)
    t = _KEEP.sub("", t)
    # A lone numeral is a word's (张三, 一张), not a number read out.
    return _RUN.sub(lambda m: numerals(m.group(0)) if len(m.group(0)) > 1 or m.group(0).isdigit()
                    else m.group(0), t)


@lru_cache(maxsize=8192)
def sound(char: str) -> str:
    """How a character sounds for matching: its usual pinyin without tone, with the mergers
    speech recognisers and southern speakers make (zh/z, ch/c, sh/s, n/l, -ng/-n)."""
    if not "\u4e00" <= char <= "\u9fff":
        return char
    from pypinyin import Style, pinyin

    p = pinyin(char, style=Style.NORMAL, heteronym=False)[0][0]
    for a, b in _MERGE:
        if p.startswith(a):
            p = b + p[len(a):]
    if p.startswith("l"):
        p = "n" + p[1:]
    return p[:-1] if p.endswith("ng") else p


def _spans(required: str, words: tuple[str, ...]) -> set[int]:
    return {i for w in words for m in re.finditer(w, required) for i in range(m.start(), m.end())}


def _reversing(added: str) -> int:
    """Characters of ``added`` that belong to words reversing the statement."""
    hits = 0
    for word in _COURTESIES:
        added = added.replace(word, "")
    for word in REVERSING:
        hits += len(word) * added.count(word)
        added = added.replace(word, "")
    return hits


def _tail(heard: str, at: int) -> str:
    """The digit run of ``heard`` nearest position ``at`` (where the sentence reads the tail)."""
    runs = [(m.start(), m.end()) for m in re.finditer("[0-9]+", heard)]
    if not runs:
        return ""
    s, e = min(runs, key=lambda r: 0 if r[0] <= at < r[1] else min(abs(r[0] - at),
                                                                      abs(r[1] - 1 - at)))
    return heard[s:e]


class _Alignment:
    """The edit-distance alignment of the required sentence with what was heard."""

    def __init__(self, required: str, heard: str) -> None:
        from rapidfuzz.distance import Levenshtein

        self.required, self.heard = required, heard
        self.ops = Levenshtein.opcodes([sound(c) for c in required], [sound(c) for c in heard])

    def position(self, i: int) -> int:
        """Where in ``heard`` the required character ``i`` landed (or would have)."""
        for op in self.ops:
            if op.src_start <= i < op.src_end:
                return op.dest_start + min(i - op.src_start, max(op.dest_end - op.dest_start - 1,
                                                                 0))
        return len(self.heard)

    def gaps(self) -> Iterator[tuple[int, int, int, int]]:
        """Runs of neighbouring edits, as (required start, end, heard start, end)."""
        run: list[int] | None = None
        for op in self.ops:
            if op.tag == "equal":
                if run:
                    yield run[0], run[1], run[2], run[3]
                run = None
            elif run is None:
                run = [op.src_start, op.src_end, op.dest_start, op.dest_end]
            else:
                run[1], run[3] = op.src_end, op.dest_end
        if run:
            yield run[0], run[1], run[2], run[3]


def match(transcript: str, policy: StatementPolicy, last4: str) -> StatementCheck:
    """Score ``transcript`` against the statement required for a number ending in ``last4``."""
    heard = normalise(transcript, fillers=True)
    if not heard:
        return StatementCheck(0.0, False, "", last4, silent=True)
    before, after = policy.wording.split(SLOT)
    # The wording loses what the transcript loses: an operator's 这个 is not then "missing".
    head = normalise(before, fillers=True)
    required = head + last4 + normalise(after, fillers=True)
    slot = range(len(head), len(head) + len(last4))
    a = _Alignment(required, heard)
    essential, first = _spans(required, _ESSENTIAL), _spans(required, _FIRST_PERSON)
    weights = [ESSENTIAL_WEIGHT if i in essential else 1.0 for i in range(len(required))]
    lost, padding, added_chars, mismatches, contradicted = 0.0, 0.0, 0, [], False
    for rs, re_, hs, he in a.gaps():
        expected, got = required[rs:re_], heard[hs:he]
        lost += sum(weights[rs:re_])
        # Words heard in place of 我 or 本人 name someone else (张三本人, 我替他); a first person
        # merely not heard (a clipped start) costs only its weight.
        bad = len(got) if first.intersection(range(rs, re_)) else _reversing(got)
        added = max(len(got) - len(expected), 0)  # heard beyond the characters it replaced
        added_chars += added
        padding += INSERT_COST * max(added - bad, 0)
        lost += REVERSING_COST * bad
        contradicted = contradicted or bad > 0
        if all(i in slot for i in range(rs, re_)) and (not got or got.isdigit()):
            continue  # the tail is reported on its own
        if expected or bad:
            mismatches.append(Mismatch(expected, got))
    total = sum(weights)
    lost += min(padding, PADDING_CAP * total)
    score = round(max(0.0, 1 - lost / total), 4)  # the score shown is the one judged
    tail = _tail(heard, a.position(slot.start))
    # Someone else named, or the sentence negated, fails whatever the rest scores.
    ok = tail == last4 and score >= policy.threshold and not contradicted
    return StatementCheck(score, ok, tail, last4, tuple(mismatches), added=added_chars,
                          contradicted=contradicted)
