"""Fixtures shared by the evaluation tests: a tiny province with sanctioned applicants, gangs
and mules over the card limit (``world``), and settings over a fresh data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from telshield.settings import Settings, load_settings
from telshield.world.config import load_config
from telshield.world.generate import generate

CONFIG = """
[sanctions]
persons_per_100k = 600
reregister_share = 0.2
[gangs]
per_100k = 100
[registrations]
sanctioned_try_share = 0.8
mule_over_limit_share = 1.0
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("evaluate-registrations")
    (base / "w.toml").write_text(CONFIG)
    cfg = load_config(base / "w.toml", subscribers=2000, days=10, start="2026-10-10 00:00:00")
    generate(cfg, 4, base / "world")
    return base / "world"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(data_dir=tmp_path_factory.mktemp("data"))
