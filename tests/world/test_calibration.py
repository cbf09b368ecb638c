"""The simulated month stays within the stated bands of the published figures.

Medians are measured from the feeds (as an analyst would), not read from the parameters.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from telshield.world.describe import BANDS, check, describe


@pytest.fixture(scope="module")
def stats(month: Path) -> dict[str, object]:
    return describe(month)


@pytest.mark.parametrize("band", BANDS, ids=lambda b: f"{b.metric}-{b.group}")
def test_band_holds(stats: dict[str, object], band: object) -> None:
    results = {(b.metric, b.group): (v, ok) for b, v, ok in check(stats)}  # type: ignore[arg-type]
    value, ok = results[(band.metric, band.group)]  # type: ignore[attr-defined]
    assert ok, f"{band}: measured {value}"


def test_couriers_resemble_fraud_but_normal_numbers_do_not(stats: dict[str, object]) -> None:
    groups = stats["groups"]  # type: ignore[index]
    fraud, courier, normal = groups["fraud"], groups["courier"], groups["normal"]
    assert abs(courier["outgoing_share"] - fraud["outgoing_share"]) < 0.2
    assert courier["calls_per_callee"] < 1.5 * fraud["calls_per_callee"]
    assert normal["calls_per_callee"] > 3 * fraud["calls_per_callee"]
    # ...while SIM age and places visited still tell them apart.
    assert courier["sim_age_months"] > 4 * fraud["sim_age_months"]
    assert courier["counties_visited"] > fraud["counties_visited"]
