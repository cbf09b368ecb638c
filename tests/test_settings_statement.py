"""The video statement's settings in ``[registration]``: a wording must place the tail once, the
threshold lies in (0, 1], a failed statement is verified or refused and nothing else, and each
bad value is named with its key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from telshield.domain.errors import InvalidInput
from telshield.settings import load_settings
from telshield.wiring.registrations import limits


def _load(tmp_path: Path, text: str) -> object:
    f = tmp_path / "telshield.toml"
    f.write_text("[registration]\n" + text, encoding="utf-8")
    return load_settings(f)


def test_defaults_and_a_file_reach_the_rule(tmp_path: Path) -> None:
    s = load_settings()
    policy = limits(s).statement
    assert policy.wording == "我本人实名登记并领取了尾号{last4}的电话卡"
    assert (policy.threshold, policy.required, policy.refuse_on_fail) == (0.8, False, False)
    f = tmp_path / "t.toml"
    f.write_text('[registration]\nstatement_wording = "本人承诺尾号{last4}的号码仅本人使用"\n'
                 'statement_threshold = 0.9\nstatement_required = true\n'
                 'statement_on_fail = "refuse"\n', encoding="utf-8")
    policy = limits(load_settings(f)).statement
    assert policy.wording == "本人承诺尾号{last4}的号码仅本人使用"
    assert (policy.threshold, policy.required, policy.refuse_on_fail) == (0.9, True, True)


@pytest.mark.parametrize(("line", "message"), [
    ('statement_wording = "我本人实名登记并领取了电话卡"\n', "must contain {last4} exactly once"),
    ('statement_wording = "尾号{last4}和{last4}"\n', "must contain {last4} exactly once"),
    ('statement_wording = "尾号{last4}"\n', "needs a sentence around {last4}"),
    ("statement_threshold = 0\n", "statement_threshold"),
    ("statement_threshold = 1.5\n", "statement_threshold"),
    ('statement_on_fail = "allow"\n', "statement_on_fail"),
    ("statement_requred = true\n", "did you mean `registration.statement_required`"),
])
def test_bad_values_are_named(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        _load(tmp_path, line)


def test_threshold_one_is_allowed(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text("[registration]\nstatement_threshold = 1\n", encoding="utf-8")
    assert load_settings(f).registration.statement_threshold == 1.0
