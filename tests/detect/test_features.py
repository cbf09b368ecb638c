"""Features: hand-checked values on DuckDB, and the same expression on PySpark."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import ibis
import pandas as pd
import pyarrow as pa
import pytest
import sqlglot

from telshield.detect.features import Window, feature_names, number_features
from telshield.reference.schemas import FEEDS

UNTIL = datetime(2026, 11, 2)


Row = tuple[str, datetime, int, str, str, str, str | None, str | None]


def _calls(rows: list[Row]) -> pa.Table:
    cols = list(zip(*rows, strict=True))
    return pa.table({
        "call_id": list(cols[0]), "started_at": pa.array(cols[1], pa.timestamp("us")),
        "duration_s": pa.array(cols[2], pa.int32()), "caller": list(cols[3]),
        "callee": list(cols[4]), "ingress": list(cols[5]), "caller_cell": list(cols[6]),
        "caller_imei": list(cols[7]), "callee_cell": pa.nulls(len(rows), pa.string()),
        "ingress_carrier": pa.nulls(len(rows), pa.string()),
    }, schema=FEEDS["calls"].schema)


TINY = _calls([
    ("1", datetime(2026, 11, 1, 10), 0, "A", "B", "radio", "c1", "86123400111111"),
    ("2", datetime(2026, 11, 1, 23), 12, "A", "C", "radio", "c2", "86123400111111"),
    ("3", datetime(2026, 11, 1, 23, 30), 100, "B", "A", "interconnect", None, None),
    ("4", datetime(2026, 10, 28), 50, "A", "B", "radio", "c1", "35000000111111"),
    ("5", datetime(2026, 10, 20), 50, "A", "D", "radio", "c1", "35000000111111"),
    ("6", datetime(2026, 11, 1, 23, 40), 5, "A", "D", "international", "c1", "35000000111111"),
])
CELLS = {"cell_id": ["c1", "c2"], "county": ["X", "Y"]}
INTEL = {"tac": ["86123400"], "kind": ["goip"]}


def _run(con: ibis.BaseBackend, calls: pa.Table) -> pd.DataFrame:
    expr = number_features(
        ibis.memtable(calls), until=UNTIL, cells=ibis.memtable(CELLS),
        intel=ibis.memtable(INTEL),
    )
    return con.execute(expr).set_index("msisdn").sort_index()


def test_features_by_hand() -> None:
    f = _run(ibis.duckdb.connect(), TINY)
    assert list(f.columns) == feature_names()
    a, b = f.loc["A"], f.loc["B"]
    assert a.out_calls_1h == 2 and a.out_calls_24h == 3 and a.out_calls_7d == 4
    assert a.in_calls_24h == 1 and b.in_calls_24h == 1 and b.in_calls_7d == 2
    assert a.distinct_callees_1h == 2 and a.distinct_callees_7d == 3
    assert a.calls_per_callee_7d == pytest.approx(4 / 3)
    assert a.short_share_24h == pytest.approx(2 / 3)  # 12 s and 5 s calls
    assert a.unanswered_share_24h == pytest.approx(1 / 3)
    assert a.callback_share_24h == pytest.approx(1 / 3)  # only B called back
    # D was called on 10-20, before the 7 d window but inside the lookback: not new.
    assert a.new_callee_share_7d == pytest.approx(2 / 3)
    assert a.night_share_24h == pytest.approx(2 / 3)
    assert a.distinct_counties_24h == 2 and a.distinct_cells_1h == 2
    assert a.goip_device_1h == 1 and a.goip_device_7d == 1 and b.goip_device_7d == 0
    assert a.distinct_imeis_7d == 2
    assert a.international_share_1h == pytest.approx(0.5)
    assert b.interconnect_share_24h == 1.0
    assert a.outgoing_share_24h == pytest.approx(3 / 4)
    assert a.active_days_7d == 2
    assert a.is_subscriber == 0 and pd.isna(a.sim_age_days)
    assert "C" not in f.index and "D" not in f.index  # they placed no calls


def test_no_aggregation_is_compiled_twice() -> None:
    """A table used twice is inlined by Ibis as two subqueries and computed twice by the engine:
    every grouped subquery of the compiled SQL must be distinct (the plan's cost depends on it)."""
    expr = number_features(
        ibis.memtable(TINY), until=UNTIL, cells=ibis.memtable(CELLS), intel=ibis.memtable(INTEL),
        sms=ibis.memtable({"sender": ["A"], "receiver": ["B"],
                           "sent_at": [datetime(2026, 11, 1, 12)]}),
    )
    tree = sqlglot.parse_one(str(ibis.to_sql(expr, dialect="duckdb")), read="duckdb")
    grouped = [s.sql() for s in tree.find_all(sqlglot.exp.Select) if s.args.get("group")]
    assert len(grouped) >= 10  # outgoing, incoming, pairs, places, SMS: all there
    duplicated = sorted({g[:80] for g in grouped if grouped.count(g) > 1})
    assert not duplicated, duplicated


def test_window_parse_rejects_nonsense() -> None:
    assert Window.parse("30m").length == timedelta(minutes=30)
    with pytest.raises(ValueError, match="positive count"):
        Window.parse("7w")


def test_incremental_keeps_only_new_callers() -> None:
    expr = number_features(ibis.memtable(TINY), until=UNTIL,
                           active_since=datetime(2026, 11, 1, 23, 20))
    got = ibis.duckdb.connect().execute(expr)
    assert sorted(got.msisdn) == ["A", "B"]
    expr = number_features(ibis.memtable(TINY), until=UNTIL,
                           active_since=datetime(2026, 11, 1, 23, 35))
    assert ibis.duckdb.connect().execute(expr).msisdn.tolist() == ["A"]


@pytest.mark.spark
def test_same_expression_on_spark_and_duckdb() -> None:
    """The one definition gives the same features on PySpark local as on DuckDB."""
    pyspark_sql = pytest.importorskip("pyspark.sql")
    from tests.toy import make_toy

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    toy = make_toy(normal=60, couriers=4, fraud=4, days=4)
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]").appName("telshield-test")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC").config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    try:
        calls = toy.feeds["calls"]
        until = datetime(2026, 11, 4, 12)

        def run(con: ibis.BaseBackend) -> pd.DataFrame:
            expr = number_features(
                ibis.memtable(calls), until=until,
                subscribers=ibis.memtable(toy.feeds["subscribers"]),
                cells=ibis.memtable(toy.feeds["cells"]),
                intel=ibis.memtable(toy.feeds["device_intel"]),
            )
            df = con.execute(expr).set_index("msisdn").sort_index()
            return df.astype("float64")

        duck = run(ibis.duckdb.connect())
        spark = run(ibis.pyspark.connect(session))
    finally:
        session.stop()
    assert len(duck) > 60
    pd.testing.assert_index_equal(duck.index, spark.index)
    assert duck["goip_device_24h"].sum() > 0 and duck["distinct_counties_7d"].max() > 1
    pd.testing.assert_frame_equal(duck, spark, check_exact=False, rtol=1e-6)


def test_long_calls_fixed_devices_and_how_long_a_caller_is_known() -> None:
    calls = _calls([
        ("1", datetime(2026, 11, 1, 10), 400, "A", "B", "radio", "c1", "86555500111111"),
        ("2", datetime(2026, 11, 1, 11), 299, "A", "C", "radio", "c1", "86555500111111"),
        ("3", datetime(2026, 10, 30, 12), 30, "A", "B", "radio", "c1", "35000000111111"),
        ("4", datetime(2026, 11, 1, 12), 600, "B", "A", "radio", "c2", "86123400111111"),
    ])
    intel = {"tac": ["86123400", "86555500"], "kind": ["goip", "deskphone"]}
    expr = number_features(ibis.memtable(calls), until=UNTIL, cells=ibis.memtable(CELLS),
                           intel=ibis.memtable(intel))
    f = ibis.duckdb.connect().execute(expr).set_index("msisdn")
    a, b = f.loc["A"], f.loc["B"]
    assert a.long_calls_24h == 1 and a.long_calls_7d == 1  # 400 s; 299 s is not long
    assert a.fixed_device_24h == 1 and a.goip_device_24h == 0
    assert b.fixed_device_24h == 0 and b.goip_device_24h == 1
    assert a.first_call_days == pytest.approx(2.5) and b.first_call_days == pytest.approx(0.5)


def test_unsolicited_callers_are_those_who_called_first() -> None:
    """B called A back after A had called it: not unsolicited. E and F called A before A ever
    called them (E before A's reply, F never answered): both count, in the windows of their
    calls; A's own first call to D long ago makes D's later call to A no stranger's."""
    rows: list[Row] = [
        ("1", datetime(2026, 11, 1, 10), 30, "A", "B", "radio", "c1", None),
        ("2", datetime(2026, 11, 1, 11), 30, "B", "A", "radio", "c1", None),
        ("3", datetime(2026, 10, 29, 9), 30, "E", "A", "radio", "c1", None),
        ("4", datetime(2026, 10, 30, 9), 30, "A", "E", "radio", "c1", None),
        ("5", datetime(2026, 11, 1, 23, 30), 30, "F", "A", "radio", "c1", None),
        ("6", datetime(2026, 10, 20), 30, "A", "D", "radio", "c1", None),
        ("7", datetime(2026, 11, 1, 12), 30, "D", "A", "radio", "c1", None),
    ]
    a = _run(ibis.duckdb.connect(), _calls(rows)).loc["A"]
    assert a.unsolicited_callers_7d == 2  # E and F
    assert a.unsolicited_callers_24h == 1 and a.unsolicited_callers_1h == 1  # F only
    assert a.in_calls_7d == 4
