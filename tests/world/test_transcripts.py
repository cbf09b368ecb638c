"""The speech recognition error model of the video statement: honest transcripts differ from
the clean text at the configured rates, and each mismatch kind has its advertised defect."""

from __future__ import annotations

import re

import numpy as np
import pytest

from telshield.world.config import RegistrationsSection, load_config
from telshield.world.transcripts import (
    DIGIT_CHARS,
    FILLERS,
    FULLWIDTH,
    HOMOPHONES,
    OTHER_TEXTS,
    STATEMENT,
    render,
    statement_kinds,
)

N = 4000
LAST4 = [f"{k:04d}" for k in np.random.default_rng(1).integers(0, 10_000, N)]
CLEAN = [STATEMENT.format(last4=x) for x in LAST4]
CHINESE = len(STATEMENT.format(last4=""))  # characters the per-character errors apply to


def only(**rates: float) -> RegistrationsSection:
    """The default section with every error off but ``rates``."""
    off = {k: 0.0 for k in ("substitution", "deletion", "insertion", "digit_error",
                            "filler_share", "digits_as_characters", "yao_share",
                            "fullwidth_share", "punctuation_share", "spaces_share")}
    return load_config().registrations.model_copy(update={**off, **rates})


def honest(cfg: RegistrationsSection, seed: int = 7) -> list[str]:
    return render(np.random.default_rng(seed), LAST4, ["honest"] * N, cfg).transcript


def edits(a: str, b: str) -> int:
    """Levenshtein distance: substitutions, deletions and insertions (what CER counts)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def test_without_errors_the_transcript_is_the_statement() -> None:
    assert honest(only()) == CLEAN


@pytest.mark.parametrize("rate", [0.02, 0.06])
def test_homophones_replace_characters_at_the_configured_rate(rate: float) -> None:
    got = honest(only(substitution=rate))
    changed = 0
    for t, c in zip(got, CLEAN, strict=True):
        assert len(t) == len(c)
        for a, b in zip(t, c, strict=True):
            if a != b:
                assert a in HOMOPHONES[b]  # a homophone of the character said
                changed += 1
    assert changed / (N * CHINESE) == pytest.approx(rate, rel=0.15)


def test_characters_are_dropped_and_inserted_at_the_configured_rates() -> None:
    dropped = sum(len(c) - len(t) for t, c in zip(honest(only(deletion=0.03)), CLEAN,
                                                 strict=True))
    assert dropped / (N * CHINESE) == pytest.approx(0.03, rel=0.15)
    added = sum(len(t) - len(c) for t, c in zip(honest(only(insertion=0.02)), CLEAN,
                                               strict=True))
    assert added / (N * CHINESE) == pytest.approx(0.02, rel=0.15)


def test_fillers_numerals_and_punctuation_at_their_shares() -> None:
    got = honest(only(filler_share=0.3))
    assert np.mean([any(f in t for f in FILLERS) for t in got]) == pytest.approx(0.3, abs=0.03)
    got = honest(only(digits_as_characters=0.4, yao_share=1.0, fullwidth_share=0.1))
    chars = [t for t in got if not re.search(r"[0-9０-９]", t)]
    assert len(chars) / N == pytest.approx(0.4, abs=0.03)
    wide = [t for t in got if re.search("[０-９]", t)]
    assert len(wide) / N == pytest.approx(0.1, abs=0.02)
    for t, last4 in zip(got, LAST4, strict=True):
        if t in chars:  # digit by digit, 1 said as 幺
            written = "".join("幺" if d == "1" else DIGIT_CHARS[int(d)] for d in last4)
            assert f"尾号{written}的" in t
        elif t in wide:
            assert "".join(FULLWIDTH[int(d)] for d in last4) in t
    got = honest(only(punctuation_share=0.5))
    assert np.mean(["，" in t and t.endswith("。") for t in got]) == pytest.approx(0.5, abs=0.03)


def test_the_default_rates_give_a_character_error_rate_of_a_few_per_cent() -> None:
    cfg = load_config().registrations
    got = honest(cfg.model_copy(update={"filler_share": 0.0, "punctuation_share": 0.0,
                                        "spaces_share": 0.0, "digits_as_characters": 0.0,
                                        "fullwidth_share": 0.0}))
    pairs = list(zip(got, CLEAN, strict=True))[:1000]
    cer = sum(edits(t, c) for t, c in pairs) / sum(len(c) for _, c in pairs)
    assert 0.01 < cer < 0.10  # published Mandarin read-speech CERs: a few per cent


def test_mismatches_have_their_defects() -> None:
    rng = np.random.default_rng(3)
    kinds = ["wrong_digits", "other_text", "partial", "silence"] * 500
    last4 = LAST4[: len(kinds)]
    got = render(rng, last4, kinds, only())
    for kind, t, said, digits in zip(kinds, got.transcript, got.said, last4, strict=True):
        if kind == "wrong_digits":  # the statement, for another card
            assert t == STATEMENT.format(last4=t[13:17]) and t[13:17] != digits
        elif kind == "other_text":
            assert t in OTHER_TEXTS and digits not in t
        elif kind == "partial":  # a beginning or an end of the statement, never all of it
            full = STATEMENT.format(last4=digits)
            assert t and len(t) < len(full) and (full.startswith(t) or full.endswith(t))
        else:
            assert t == "" and said == ""


def test_mismatch_kinds_follow_their_weights() -> None:
    cfg = load_config().registrations
    mismatch = np.random.default_rng(5).random(20_000) < 0.5
    kinds = statement_kinds(np.random.default_rng(6), mismatch, cfg)
    assert set(kinds[~mismatch]) == {"honest"}
    total = cfg.wrong_digits + cfg.other_text + cfg.partial + cfg.silence
    for kind in ("wrong_digits", "other_text", "partial", "silence"):
        share = float(np.mean(kinds[mismatch] == kind))
        assert share == pytest.approx(getattr(cfg, kind) / total, abs=0.02)
