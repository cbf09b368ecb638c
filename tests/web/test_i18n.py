"""The message catalogue covers every key the templates name, in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import telshield.web
from telshield.web.i18n import MESSAGES, pick, text

TEMPLATES = Path(telshield.web.__file__).parent / "templates"


def test_every_key_a_template_names_is_in_the_catalogue() -> None:
    named: set[str] = set()
    for f in TEMPLATES.glob("*.html"):
        named |= set(re.findall(r"""\bt\(\s*'([a-z_.]+)'\s*\)""", f.read_text("utf-8")))
    named |= {f"act.{k}" for k in ("verify", "restrict", "suspend", "release", "confirm")}
    assert len(named) > 50  # the pattern finds them
    assert sorted(named - MESSAGES.keys()) == []


def test_each_message_has_both_languages() -> None:
    for key, (zh, en) in MESSAGES.items():
        assert (zh and en and zh != en) or key == "nav.lang", key
        assert re.search(r"[\u4e00-\u9fff]", zh) or key in ("login.key", "nav.lang"), key
    assert text("nav.alerts", "en") == "Alert queue" and text("nav.alerts", "zh") == "预警队列"
    assert pick("fr") == "zh" and pick(None) == "zh" and pick("en") == "en"
    with pytest.raises(KeyError):
        text("no.such.key", "zh")
