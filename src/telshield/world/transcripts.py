"""The real-name video statement as speech recognition writes it down.

At registration the applicant reads "我本人实名登记并领取了尾号XXXX的电话卡" (XXXX: the last four
digits of the card) on video, and the recogniser's text is what reaches the check. This module
is the simulator's error model of that text, written from how Mandarin recognisers fail (see
docs/world.md, "Registrations and transcripts", for each rate and where it comes from):
homophones written for the right sound, characters dropped or inserted, filler words, the card
number as digits, as characters or with 幺 for 1, punctuation and spaces. Applicants who do not
say the statement for this card (``Kind``) are rendered through the same recogniser. Nothing
here knows how a checker reads the text: the model comes from recognisers, not from a checker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from telshield.world.config import RegistrationsSection

STATEMENT = "我本人实名登记并领取了尾号{last4}的电话卡"

# Common Mandarin homophones (same syllable, tone aside) of each character of the statement: what
# a recogniser writes when its language model prefers another word with the same sound.
HOMOPHONES: dict[str, str] = {
    "我": "窝沃", "本": "苯奔", "人": "仁任", "实": "时十石食", "名": "明鸣铭", "登": "灯等",
    "记": "纪既寄级", "并": "病兵", "领": "令岭零", "取": "娶去", "了": "啦乐", "尾": "委伟为",
    "号": "好浩", "的": "得地", "电": "店点", "话": "画化", "卡": "咔咖",
}
# What a recogniser inserts on its own: short function words and echoes.
INSERTED = "的了是一啊这"
FILLERS = ("嗯", "呃", "那个", "就是")
DIGITS = "0123456789"
DIGIT_CHARS = "零一二三四五六七八九"
FULLWIDTH = "０１２３４５６７８９"
# Someone reading another text: other statements a store has people read, and small talk.
OTHER_TEXTS = (
    "本人承诺不出租不出借不转售电话卡",
    "我本人自愿办理携号转网业务",
    "我是来办理宽带业务的",
    "请问这个套餐每个月多少钱",
    "我本人已知晓实名制相关规定",
    "我来帮我妈妈办一张卡",
    "我本人实名登记并领取了宽带账号",
    "你好我要办一张电话卡",
)
MISMATCHES = ("wrong_digits", "other_text", "partial", "silence")


@dataclass(frozen=True)
class Rendered:
    """Transcripts, the text each applicant actually said, and the recognition errors made
    (comma-separated tags, for truth)."""

    transcript: list[str]
    said: list[str]
    errors: list[str]


def _other_last4(rng: np.random.Generator, last4: str) -> str:
    """The last four digits of another card: at least one digit differs."""
    while True:
        other = "".join(DIGITS[int(d)] for d in rng.integers(0, 10, 4))
        if other != last4:
            return other


def said_text(rng: np.random.Generator, kind: str, last4: str) -> str:
    """What the applicant says for one statement ``kind`` (``honest`` or a mismatch)."""
    if kind == "honest":
        return STATEMENT.format(last4=last4)
    if kind == "wrong_digits":
        return STATEMENT.format(last4=_other_last4(rng, last4))
    if kind == "other_text":
        return OTHER_TEXTS[int(rng.integers(0, len(OTHER_TEXTS)))]
    if kind == "partial":
        full = STATEMENT.format(last4=last4)
        # Stops early (before the number, or within it), or starts late, missing the opening.
        cut = int(rng.integers(4, full.index(last4) + 3))
        return full[:cut] if rng.random() < 0.75 else full[cut:]
    if kind == "silence":
        return ""
    raise ValueError(f"unknown statement kind {kind!r}")


def _number(rng: np.random.Generator, digits: str, cfg: RegistrationsSection,
            tags: list[str]) -> str:
    """The card number as the recogniser writes it."""
    out = []
    for d in digits:
        if rng.random() < cfg.digit_error:
            d = DIGITS[(int(d) + int(rng.integers(1, 10))) % 10]
            tags.append("digit_error")
        out.append(d)
    u = rng.random()
    if u < cfg.digits_as_characters:
        tags.append("digits_as_characters")
        yao = "1" in out and rng.random() < cfg.yao_share
        if yao:
            tags.append("yao")
        return "".join("幺" if yao and d == "1" else DIGIT_CHARS[int(d)] for d in out)
    if u < cfg.digits_as_characters + cfg.fullwidth_share:
        tags.append("fullwidth")
        return "".join(FULLWIDTH[int(d)] for d in out)
    return "".join(out)


def _characters(rng: np.random.Generator, text: str, cfg: RegistrationsSection,
                tags: list[str]) -> list[str]:
    """Substitutions, deletions and insertions on each character that is not a digit."""
    out: list[str] = []
    for ch in text:
        if ch.isdigit():
            out.append(ch)
            continue
        u = rng.random()
        if u < cfg.deletion:
            tags.append("deletion")
            continue
        if u < cfg.deletion + cfg.substitution and ch in HOMOPHONES:
            alts = HOMOPHONES[ch]
            ch = alts[int(rng.integers(0, len(alts)))]
            tags.append("homophone")
        out.append(ch)
        if rng.random() < cfg.insertion:
            out.append(INSERTED[int(rng.integers(0, len(INSERTED)))])
            tags.append("insertion")
    return out


def recognise(rng: np.random.Generator, said: str, cfg: RegistrationsSection) -> tuple[str, str]:
    """The recogniser's text for ``said``, and the tags of the errors it made."""
    if not said:
        return "", ""
    tags: list[str] = []
    # The card number is recognised as a unit (digits, characters, 幺); the rest per character.
    head, digits, tail = _split(said)
    chars = _characters(rng, head, cfg, tags)
    number = _number(rng, digits, cfg, tags) if digits else ""
    rest = _characters(rng, tail, cfg, tags)
    if rng.random() < cfg.punctuation_share:
        tags.append("punctuation")
        if "并" in chars:  # a pause between the two clauses
            chars.insert(chars.index("并"), "，")
        (rest or chars).append("。")
    if rng.random() < cfg.spaces_share and len(chars) > 3:
        tags.append("spaces")
        chars.insert(int(rng.integers(1, len(chars))), " ")
    text = "".join(chars) + number + "".join(rest)
    if rng.random() < cfg.filler_share:
        tags.append("filler")
        word = FILLERS[int(rng.integers(0, len(FILLERS)))]
        at = 0 if rng.random() < 0.6 else int(rng.integers(0, len(text) + 1))
        text = text[:at] + word + text[at:]
    return text, ",".join(dict.fromkeys(tags))


def _split(text: str) -> tuple[str, str, str]:
    """Text before the first run of digits, the run, and the text after it."""
    i = next((k for k, c in enumerate(text) if c.isdigit()), len(text))
    j = i
    while j < len(text) and text[j].isdigit():
        j += 1
    return text[:i], text[i:j], text[j:]


def render(rng: np.random.Generator, last4: list[str], kinds: list[str],
           cfg: RegistrationsSection) -> Rendered:
    """The transcript of each applicant's statement: ``kinds[i]`` is ``honest`` or a mismatch
    (``MISMATCHES``), ``last4[i]`` the last four digits of the card applied for."""
    transcripts, said, errors = [], [], []
    for digits, kind in zip(last4, kinds, strict=True):
        s = said_text(rng, kind, digits)
        t, e = recognise(rng, s, cfg)
        transcripts.append(t)
        said.append(s)
        errors.append(e)
    return Rendered(transcripts, said, errors)


def statement_kinds(rng: np.random.Generator, mismatch: np.ndarray, cfg: RegistrationsSection
                    ) -> np.ndarray:
    """``honest`` where ``mismatch`` is False, else a mismatch kind drawn by the config's
    weights."""
    w = np.array([cfg.wrong_digits, cfg.other_text, cfg.partial, cfg.silence], dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.full(4, 0.25)
    drawn = np.array(MISMATCHES, dtype=object)[rng.choice(4, len(mismatch), p=w)]
    return np.where(mismatch, drawn, "honest").astype(object)
