"""A small simulated month shared by the world tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from telshield.world.config import load_config
from telshield.world.config import randomised as with_prior
from telshield.world.generate import generate

MONTH_START = "2026-10-01 00:00:00"


@pytest.fixture(scope="session")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8,000 subscribers over 30 days: enough numbers per group for stable medians.

    Dens are raised from the default so that a province this small has one of each kind.
    """
    base = tmp_path_factory.mktemp("world")
    out = base / "month"
    (base / "month.toml").write_text("[dens]\nper_100k = 30\n")
    cfg = load_config(base / "month.toml", subscribers=8000, days=30, start=MONTH_START)
    generate(cfg, 11, out)
    return out


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few days of a small province, as Parquet."""
    out = tmp_path_factory.mktemp("world") / "small"
    cfg = load_config(None, subscribers=1500, days=4, start="2026-11-10 00:00:00")
    generate(cfg, 5, out)
    return out


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few days of a small province, as CSV."""
    out = tmp_path_factory.mktemp("world") / "small-csv"
    cfg = load_config(None, subscribers=1000, days=3, start="2026-11-10 00:00:00")
    generate(cfg, 5, out, fmt="csv")
    return out


@pytest.fixture(scope="session")
def randomised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A province drawn from the prior: every look-alike, roaming abroad, stealthier fraud."""
    out = tmp_path_factory.mktemp("world") / "randomised"
    cfg = with_prior(load_config(None, subscribers=6000, days=8, start=MONTH_START))
    generate(cfg, 5, out)
    return out
