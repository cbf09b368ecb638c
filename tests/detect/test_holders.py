"""Holder features: a company's lines, and long-held busy lines side by side on one cell."""

from __future__ import annotations

from datetime import datetime

import ibis
import pandas as pd
from tests.detect.calls import calls_before

from telshield.detect.holders import holder_features, office_features

UNTIL = datetime(2026, 11, 5, 12)
DESK_A, DESK_B, STAFF, NEWCOMER, PASSER = "861391", "861392", "861393", "861394", "861395"


def _subscribers() -> ibis.Table:
    return ibis.memtable(pd.DataFrame({
        "msisdn": [DESK_A, DESK_B, STAFF, NEWCOMER, "861399", DESK_A],
        "id_hash": ["co", "co", "staff", "new", "co", "co"],
        "holder_kind": ["enterprise", "enterprise", "individual", "individual", "enterprise",
                        "individual"],
        # DESK_A's second row is a re-registration after UNTIL: not yet known at UNTIL.
        "registered_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2025-01-01", "2026-11-01",
                                         "2026-12-01", "2026-12-01"]),
    }))


def _office_day() -> ibis.Table:
    rows = [(1, who, f"86137{n:02d}{k:04d}", "radio", "OFFICE")
            for n, who in enumerate((DESK_A, DESK_B, STAFF)) for k in range(25)]
    rows += [(2, NEWCOMER, "8613600000001", "radio", "OFFICE")]
    rows += [(3, PASSER, "8613600000002", "radio", "STREET")]
    rows += [(30, DESK_A, "8613600000003", "radio", "STREET")]  # yesterday: not counted
    return calls_before(UNTIL, rows)


def test_holder_kind_and_lines_under_one_identity() -> None:
    got = ibis.duckdb.connect().execute(holder_features(_subscribers(), until=UNTIL))
    value = got.set_index("msisdn")
    # "861399" registered after UNTIL: not counted among the company's lines.
    assert value.loc[DESK_A, "id_lines"] == 2 and value.loc[DESK_A, "holder_enterprise"] == 1
    assert value.loc[STAFF, "id_lines"] == 1 and value.loc[STAFF, "holder_enterprise"] == 0
    assert "861399" not in value.index


def test_an_office_shows_its_lines_and_its_long_held_busy_neighbours() -> None:
    got = ibis.duckdb.connect().execute(office_features(_subscribers(), _office_day(),
                                                        until=UNTIL)).set_index("msisdn")
    # DESK_A: DESK_B shares its identity and its cell; DESK_B and STAFF are old busy lines.
    assert got.loc[DESK_A, "id_lines_cell_24h"] == 1
    assert got.loc[DESK_A, "cell_old_callers_24h"] == 2
    assert got.loc[STAFF, "id_lines_cell_24h"] == 0 and got.loc[STAFF, "cell_old_callers_24h"] == 2
    # A new SIM on the office cell sees three old busy lines; it is not one itself.
    assert got.loc[NEWCOMER, "cell_old_callers_24h"] == 3
    assert got.loc[PASSER, "cell_old_callers_24h"] == 0  # elsewhere; yesterday does not count


def test_holder_age_is_that_of_the_identitys_oldest_line() -> None:
    got = ibis.duckdb.connect().execute(holder_features(_subscribers(), until=UNTIL))
    age = got.set_index("msisdn")["holder_age_days"]
    # DESK_B is younger than DESK_A, but its company has been a customer since 2024-01-01.
    since = (UNTIL - datetime(2024, 1, 1)).total_seconds() / 86400
    assert age[DESK_A] == age[DESK_B] == since
    assert age[NEWCOMER] == (UNTIL - datetime(2026, 11, 1)).total_seconds() / 86400
