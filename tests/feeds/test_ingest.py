"""Ingest: validation reasons, quarantine contents, idempotence, chunking, lake tables."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import duckdb
import ibis
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from tests.feeds.csvs import write_csv

from telshield.domain.errors import InvalidInput
from telshield.feeds import quarantine
from telshield.feeds.lake import Lake
from telshield.reference.schemas import CALLS, FEEDS, SANCTIONS
from telshield.services.ingest import IngestOptions, ingest, ingest_all

NOW = datetime(2026, 11, 20, 12, 0, 0)
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
GOOD = dict(CALLS.example)


def call(i: int, **over: str) -> dict[str, str]:
    row = {**GOOD, "call_id": f"C{i:08d}"}
    row.update(over)
    return row


@pytest.fixture(params=["auto", "chunked"])
def opts(tmp_path: Path, request: pytest.FixtureRequest) -> IngestOptions:
    """Both readers: DuckDB streaming whole files, and exact chunked reading."""
    return IngestOptions(
        tmp_path / "lake", tmp_path / "quarantine", chunk_rows=1000, reader=request.param
    )


def lake_rows(opts: IngestOptions, feed: str = "calls") -> int:
    files = Lake(opts.lake_dir).files(FEEDS[feed])
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


BAD_VALUES = [
    ({"caller": ""}, "caller", "missing_required"),
    ({"duration_s": "ninety"}, "duration_s", "bad_type"),
    ({"duration_s": "-5"}, "duration_s", "out_of_range"),
    ({"started_at": "yesterday"}, "started_at", "bad_type"),
    ({"started_at": "1999-12-31 23:59:59"}, "started_at", "timestamp_out_of_range"),
    ({"started_at": "2026-11-25 00:00:00"}, "started_at", "timestamp_out_of_range"),
    ({"callee": "138-1234-5678"}, "callee", "bad_number"),
    ({"caller": "12"}, "caller", "bad_number"),
    ({"caller": "08613812345678"}, "caller", "bad_number"),  # not canonical: a leading 0
    ({"caller_imei": "12345"}, "caller_imei", "bad_imei"),
    ({"ingress": "satellite"}, "ingress", "bad_enum"),
]


@pytest.mark.parametrize(("override", "field", "reason"), BAD_VALUES)
def test_each_bad_value_is_quarantined_with_its_reason(
    tmp_path: Path, opts: IngestOptions, override: dict[str, str], field: str, reason: str
) -> None:
    src = write_csv(tmp_path / "calls.csv", [call(1), call(2, **override), call(3)])
    report = ingest("calls", [src], opts, now=NOW)
    assert report.added == 2
    assert dict(report.quarantined) == {reason: 1}
    q = quarantine.read(opts.quarantine_dir, "calls").to_pylist()
    assert len(q) == 1
    assert (q[0]["line"], q[0]["reason"], q[0]["field"]) == (3, reason, field)
    assert q[0]["source_file"] == str(src)
    assert "C00000002" in q[0]["record"]


@pytest.mark.parametrize(
    ("feed", "override", "field", "reason"),
    [
        ("subscribers", {"id_hash": "not-a-hash"}, "id_hash", "bad_hash"),
        ("subscribers", {"imsi": "46000"}, "imsi", "bad_imsi"),
        ("device_intel", {"tac": "8612"}, "tac", "bad_tac"),
        ("orders", {"ip": "not-an-ip"}, "ip", "bad_ip"),
        ("sanctions", {"ends_at": "2026-01-01 00:00:00"}, "ends_at", "bad_interval"),
        ("cells", {"lat": "91.5"}, "lat", "out_of_range"),
    ],
)
def test_format_checks_of_other_feeds(
    tmp_path: Path, opts: IngestOptions, feed: str, override: dict[str, str], field: str,
    reason: str,
) -> None:
    spec = FEEDS[feed]
    src = write_csv(tmp_path / f"{feed}.csv", [{**spec.example, **override}], spec.column_names)
    report = ingest(feed, [src], opts, now=NOW)
    assert report.added == 0
    assert dict(report.quarantined) == {reason: 1}
    q = quarantine.read(opts.quarantine_dir, feed).to_pylist()[0]
    assert (q["line"], q["field"]) == (2, field)


def test_sanction_end_dates_may_lie_ahead(tmp_path: Path, opts: IngestOptions) -> None:
    row = {**SANCTIONS.example, "ends_at": "2030-01-01 00:00:00"}
    src = write_csv(tmp_path / "s.csv", [row], SANCTIONS.column_names)
    assert ingest("sanctions", [src], opts, now=NOW).added == 1


def test_every_problem_of_a_row_is_listed(tmp_path: Path, opts: IngestOptions) -> None:
    src = write_csv(tmp_path / "c.csv", [call(1, caller="x", ingress="pigeon", duration_s="")])
    ingest("calls", [src], opts, now=NOW)
    problems = quarantine.read(opts.quarantine_dir, "calls")["problems"][0].as_py()
    assert "caller: bad_number" in problems
    assert "ingress: bad_enum" in problems
    assert "duration_s: missing_required" in problems


def test_wrong_column_count_keeps_exact_lines(tmp_path: Path, opts: IngestOptions) -> None:
    src = write_csv(tmp_path / "c.csv", [call(i) for i in range(1, 6)])
    lines = src.read_text().splitlines()
    lines.insert(3, "C9,2026-11-01 09:00:00,5")  # becomes line 4
    lines.append("")  # a trailing blank line holds no record
    src.write_text("\n".join(lines) + "\n")
    bad_after = call(99, caller="nope")
    with src.open("a", newline="") as f:
        csv.writer(f).writerow([bad_after[c] for c in CALLS.column_names])  # line 9
    report = ingest("calls", [src], opts, now=NOW)
    assert report.added == 5
    q = {r["line"]: r["reason"] for r in quarantine.read(opts.quarantine_dir).to_pylist()}
    assert q == {4: "wrong_column_count", 9: "bad_number"}


def test_reingesting_adds_nothing_and_overlap_adds_only_new_rows(
    tmp_path: Path, opts: IngestOptions
) -> None:
    first = write_csv(tmp_path / "a.csv", [call(i) for i in range(10)])
    assert ingest("calls", [first], opts, now=NOW).added == 10
    again = ingest("calls", [first], opts, now=NOW)
    assert (again.added, again.already_present) == (0, 10)
    overlap = write_csv(tmp_path / "b.csv", [call(i) for i in range(5, 15)])
    r = ingest("calls", [overlap], opts, now=NOW)
    assert (r.added, r.already_present) == (5, 5)
    assert lake_rows(opts) == 15


def test_duplicate_keys_within_an_ingest_keep_the_first(
    tmp_path: Path, opts: IngestOptions
) -> None:
    a = write_csv(tmp_path / "a.csv", [call(1), call(2), call(1, duration_s="7")])
    b = write_csv(tmp_path / "b.csv", [call(2, duration_s="8")])
    report = ingest("calls", [a, b], opts, now=NOW)
    assert report.added == 2
    assert dict(report.quarantined) == {"duplicate_key": 2}
    q = sorted(
        (r["source_file"], r["line"]) for r in quarantine.read(opts.quarantine_dir).to_pylist()
    )
    assert q == [(str(a), 4), (str(b), 2)]
    durations = duckdb.sql(
        f"SELECT call_id, duration_s FROM read_parquet('{opts.lake_dir}/calls/*/*.parquet') "
        "ORDER BY 1"
    ).fetchall()
    assert durations == [("C00000001", 94), ("C00000002", 94)]


def test_file_larger_than_a_chunk_gives_the_same_lake(tmp_path: Path) -> None:
    rows = [call(i, started_at=f"2026-11-0{1 + i % 7} 10:00:00") for i in range(2500)]
    rows[1733] = call(1733, callee="bad")  # line 1735, in the middle of a later chunk
    src = write_csv(tmp_path / "big.csv", rows)
    results = {}
    for reader, chunk in (("chunked", 100), ("chunked", 1_000_000), ("auto", 100)):
        o = IngestOptions(
            tmp_path / f"lake{chunk}{reader}", tmp_path / f"q{chunk}{reader}",
            chunk_rows=chunk, reader=reader,
        )
        r = ingest("calls", [src], o, now=NOW)
        q = quarantine.read(o.quarantine_dir).to_pylist()
        rows = duckdb.sql(
            f"SELECT * FROM read_parquet('{o.lake_dir}/calls/*/*.parquet') ORDER BY call_id"
        ).fetchall()
        results[(reader, chunk)] = (r.added, r.days, [(x["line"], x["reason"]) for x in q], rows)
    first, *others = results.values()
    assert all(o == first for o in others)
    assert first[0] == 2499
    assert first[2] == [(1735, "bad_number")]


def test_parquet_input_is_validated_like_csv(tmp_path: Path, opts: IngestOptions) -> None:
    rows = [call(1), call(2, ingress="carrier-pigeon"), call(3)]
    table = pa.table({c: [r[c] for r in rows] for c in CALLS.column_names})
    src = tmp_path / "calls.parquet"
    pq.write_table(table, src)
    report = ingest("calls", [src], opts, now=NOW)
    assert report.added == 2
    q = quarantine.read(opts.quarantine_dir).to_pylist()
    assert [(r["line"], r["reason"]) for r in q] == [(2, "bad_enum")]


def test_a_file_that_cannot_be_read_is_an_error_naming_it(
    tmp_path: Path, opts: IngestOptions
) -> None:
    src = write_csv(tmp_path / "c.csv", [{"call_id": "C1"}], ["call_id", "started_at"])
    with pytest.raises(InvalidInput, match=r"c\.csv: header lacks column\(s\) duration_s"):
        ingest("calls", [src], opts, now=NOW)
    with pytest.raises(InvalidInput, match="no such file"):
        ingest("calls", [tmp_path / "missing.csv"], opts, now=NOW)
    with pytest.raises(InvalidInput, match="unknown feed 'cdr'"):
        ingest("cdr", [src], opts, now=NOW)
    assert lake_rows(opts) == 0


def test_a_crashed_ingest_leaves_no_trace_in_the_lake(tmp_path: Path, opts: IngestOptions) -> None:
    stale = opts.lake_dir / "_staging" / "crashed" / "f00000-c00000.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half-written")
    src = write_csv(tmp_path / "c.csv", [call(1)])
    assert ingest("calls", [src], opts, now=NOW).added == 1
    assert not (opts.lake_dir / "_staging").exists() or not any(
        (opts.lake_dir / "_staging").iterdir()
    )


def test_an_ingest_that_dies_before_its_commit_shows_no_quarantine_either(
    tmp_path: Path, opts: IngestOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quarantine file is written before the manifest line that commits the ingest: a
    death between the two leaves its rows out of the lake and its bad rows out of the
    quarantine, and the re-run quarantines them once (the dead file is removed)."""
    src = write_csv(tmp_path / "c.csv", [call(1), call(2, duration_s="5.5"), call(3)])

    def die(self: Lake, ingest_id: str, entry: dict[str, object]) -> None:
        raise KeyboardInterrupt  # the process dies here, its staging folder left behind

    with monkeypatch.context() as m:
        m.setattr(Lake, "finish", die)
        with pytest.raises(KeyboardInterrupt):
            ingest("calls", [src], opts, now=NOW)
    committed = Lake(opts.lake_dir).committed()
    assert len(list(opts.quarantine_dir.glob("calls/*.parquet"))) == 1  # written, not counted
    assert quarantine.read(opts.quarantine_dir, committed=committed).num_rows == 0
    assert lake_rows(opts) == 0

    report = ingest("calls", [src], opts, now=NOW)
    assert (report.added, sum(report.quarantined.values())) == (2, 1)
    committed = Lake(opts.lake_dir).committed()
    assert quarantine.read(opts.quarantine_dir, committed=committed).num_rows == 1
    assert [f.stem for f in opts.quarantine_dir.glob("calls/*.parquet")] == [report.ingest_id]
    assert sum(ingest("calls", [src], opts, now=NOW).quarantined.values()) == 0


def test_samples_ingest_cleanly_and_lake_tables_are_lazy(
    opts: IngestOptions, tmp_path: Path
) -> None:
    root = tmp_path / "feeds"
    for f in SAMPLES.glob("*.csv"):
        (root / f.stem).mkdir(parents=True)
        (root / f.stem / f.name).write_bytes(f.read_bytes())
    reports = ingest_all(root, opts, now=NOW)
    assert {r.feed for r in reports} == set(FEEDS)
    assert all(sum(r.quarantined.values()) == 0 for r in reports), [r.quarantined for r in reports]
    con = ibis.duckdb.connect()
    calls = Lake(opts.lake_dir).table(con, "calls")
    per_day = calls.group_by("day").aggregate(n=calls.count()).order_by("day").execute()
    assert per_day["n"].sum() == 300
    assert len(per_day) == 7
    cells = Lake(opts.lake_dir).table(con, "cells")
    assert cells.count().execute() == 5
    empty = Lake(tmp_path / "nothing").table(con, "sms")
    assert empty.count().execute() == 0
    assert "day" in empty.columns


def test_csv_columns_may_come_in_any_order_and_extras_are_ignored(
    tmp_path: Path, opts: IngestOptions
) -> None:
    header = ["note", *reversed(CALLS.column_names)]
    rows = [{**call(1), "note": "x"}, {**call(2), "note": "y"}]
    src = write_csv(tmp_path / "c.csv", rows, header)
    assert ingest("calls", [src], opts, now=NOW).added == 2


def test_lake_files_are_pruned_to_the_days_asked_for(tmp_path: Path, opts: IngestOptions) -> None:
    rows = [call(i, started_at=f"2026-11-0{1 + i % 3} 10:00:00") for i in range(9)]
    ingest("calls", [write_csv(tmp_path / "c.csv", rows)], opts, now=NOW)
    lake = Lake(opts.lake_dir)
    days = [Path(f).parent.name for f in lake.files(CALLS, datetime(2026, 11, 2), None)]
    assert sorted(set(days)) == ["day=2026-11-02", "day=2026-11-03"]
    one = lake.files(CALLS, datetime(2026, 11, 2), datetime(2026, 11, 3))
    assert {Path(f).parent.name for f in one} == {"day=2026-11-02"}
    assert len(lake.files(CALLS)) == 3


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_without_an_optional_column_added_later_reads_it_as_null(
    opts: IngestOptions, tmp_path: Path, fmt: str
) -> None:
    """``ingress_carrier`` came to the calls feed after exports were written: a file without
    it ingests whole, the column null; one without a required column is still refused."""
    cols = [c for c in CALLS.column_names if c != "ingress_carrier"]
    rows = {"call_id": ["C1", "C2"], "started_at": ["2026-11-01 09:00:00", "2026-11-01 09:01:00"],
            "duration_s": ["30", "0"], "caller": ["8618612345678", "8613812345678"],
            "callee": ["8613912345678"] * 2, "ingress": ["interconnect", "radio"],
            "caller_cell": [None, "c1"], "caller_imei": [None, None], "callee_cell": [None, None]}
    assert list(rows) == cols
    src = tmp_path / f"old.{fmt}"
    table = pa.table({c: pa.array(v, pa.string()) for c, v in rows.items()})
    if fmt == "csv":
        pacsv.write_csv(table, src)
    else:
        typed = table.set_column(1, "started_at", pa.array(
            [datetime(2026, 11, 1, 9, 0), datetime(2026, 11, 1, 9, 1)], pa.timestamp("us")))
        typed = typed.set_column(2, "duration_s", pa.array([30, 0], pa.int32()))
        pq.write_table(typed, src)
    report = ingest("calls", [src], opts, now=NOW)
    assert (report.added, sum(report.quarantined.values())) == (2, 0)
    files = [str(f) for f in Lake(opts.lake_dir).files(CALLS)]
    got = duckdb.sql(f"SELECT call_id, ingress_carrier FROM read_parquet({files}) ORDER BY 1")
    assert got.fetchall() == [("C1", None), ("C2", None)]
    lacking = tmp_path / "no_callee.csv"
    pacsv.write_csv(table.drop_columns(["callee"]), lacking)
    with pytest.raises(InvalidInput, match=r"header lacks column\(s\) callee"):
        ingest("calls", [lacking], opts, now=NOW)
