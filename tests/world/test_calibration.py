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
    results = {(b.metric, b.group): (v, ok) for b, v, ok in check(stats)}
    value, ok = results[(band.metric, band.group)]
    assert ok, f"{band}: measured {value}"


def test_couriers_resemble_fraud_but_normal_numbers_do_not(stats: dict[str, object]) -> None:
    groups = stats["groups"]
    fraud, courier, normal = groups["fraud"], groups["courier"], groups["normal"]
    assert abs(courier["outgoing_share"] - fraud["outgoing_share"]) < 0.2
    assert courier["calls_per_callee"] < 1.5 * fraud["calls_per_callee"]
    assert normal["calls_per_callee"] > 3 * fraud["calls_per_callee"]
    # ...while SIM age and places visited still tell them apart.
    assert courier["sim_age_months"] > 4 * fraud["sim_age_months"]
    assert courier["counties_visited"] > fraud["counties_visited"]


def test_a_naive_detector_fails(month: Path) -> None:
    """'Many strangers, mostly outgoing' flags more honest workers than fraudsters."""
    import duckdb

    con = duckdb.connect()
    row = con.execute(f"""
        WITH week AS (SELECT * FROM read_parquet('{month}/calls/*.parquet')
                      WHERE started_at < TIMESTAMP '2026-10-08'),
        per AS (SELECT caller AS msisdn, count(DISTINCT callee) AS callees, count(*) AS n_out
                FROM week GROUP BY 1),
        inc AS (SELECT callee AS msisdn, count(*) AS n_in FROM week GROUP BY 1),
        flagged AS (SELECT msisdn FROM per LEFT JOIN inc USING (msisdn)
                    WHERE callees >= 30 AND n_out >= 0.85 * (n_out + coalesce(n_in, 0)))
        SELECT count(*) FILTER (WHERE r.role IN ('fraud_sim', 'den_sim', 'offnet_fraud')),
               count(*) FILTER (WHERE r.role IN ('courier', 'sales', 'taxi', 'real_estate'))
        FROM flagged JOIN '{month}/truth/numbers.parquet' r USING (msisdn)""").fetchone()
    assert row is not None
    fraud, honest = row
    assert fraud > 0
    assert honest > fraud  # precision under one half
