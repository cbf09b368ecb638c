"""Ingest's direct path: clean files are written once, straight into lake files, with exactly the
results of the exact path (staged rows with lines); anything else falls back to the exact path."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.feeds.csvs import write_csv

from telshield.feeds import lake as lake_module
from telshield.feeds import quarantine
from telshield.feeds.lake import Lake
from telshield.reference.schemas import CALLS, CELLS, FEEDS
from telshield.services.ingest import IngestOptions, IngestReport, ingest

NOW = datetime(2026, 11, 20, 12, 0, 0)
GOOD = CALLS.example["caller"]


def call(i: int, day: int = 1, **over: str) -> dict[str, str]:
    row = {**CALLS.example, "call_id": f"C{i:08d}", "started_at": f"2026-11-{day:02d} 10:00:00"}
    row.update(over)
    return row


def write_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    pq.write_table(pa.table({c: [r[c] for r in rows] for c in CALLS.column_names}), path)
    return path


class Both:
    """The same ingests run twice: the auto reader (direct path first) and the exact chunked
    reader, each into its own lake, so that every result can be compared."""

    def __init__(self, tmp: Path) -> None:
        self.auto = IngestOptions(tmp / "auto" / "lake", tmp / "auto" / "q", reader="auto")
        self.exact = IngestOptions(tmp / "exact" / "lake", tmp / "exact" / "q", reader="chunked")

    def ingest(self, feed: str, files: list[Path], path: str) -> IngestReport:
        """Ingest with both; check the auto run took ``path`` and both agree; the auto report."""
        auto = ingest(feed, files, self.auto, now=NOW)
        exact = ingest(feed, files, self.exact, now=NOW)
        assert auto.path == path
        assert exact.path == "exact"
        assert summary(auto) == summary(exact)
        assert lake_content(self.auto, feed) == lake_content(self.exact, feed)
        assert quarantined(self.auto) == quarantined(self.exact)
        assert manifest(self.auto) == manifest(self.exact)
        return auto


def summary(r: IngestReport) -> tuple[Any, ...]:
    files = [(f.path, f.rows_read, f.quarantined) for f in r.files]
    return (r.added, r.already_present, dict(r.quarantined), r.days, files)


def lake_content(o: IngestOptions, feed: str) -> list[tuple[Any, ...]]:
    """Every lake row with its partition folder, sorted."""
    out = []
    for f in Lake(o.lake_dir).files(FEEDS[feed]):
        part = f.parent.name if f.parent.name.startswith("day=") else ""
        out += [(part, *row.values()) for row in pq.read_table(f).to_pylist()]
    return sorted(out, key=repr)


def quarantined(o: IngestOptions) -> list[tuple[Any, ...]]:
    rows = quarantine.read(o.quarantine_dir).to_pylist()
    return sorted((r["source_file"], r["line"], r["problems"], r["record"]) for r in rows)


def manifest(o: IngestOptions) -> list[dict[str, Any]]:
    drop = {"ingest_id", "quarantine_file"}
    return [{k: v for k, v in e.items() if k not in drop} for e in Lake(o.lake_dir).history()]


def lake_files(o: IngestOptions, feed: str = "calls") -> list[Path]:
    return Lake(o.lake_dir).files(FEEDS[feed])


@pytest.fixture
def both(tmp_path: Path) -> Both:
    return Both(tmp_path)


def test_a_clean_csv_takes_the_direct_path(tmp_path: Path, both: Both) -> None:
    src = write_csv(tmp_path / "a.csv", [call(i, day=1 + i % 3) for i in range(30)])
    r = both.ingest("calls", [src], "direct")
    days = ("2026-11-01", "2026-11-02", "2026-11-03")
    assert (r.added, r.already_present, r.days) == (30, 0, days)
    assert r.quarantine_file is None
    assert not (both.auto.lake_dir / "_staging" / r.ingest_id).exists()


def test_clean_parquet_files_take_the_direct_path(tmp_path: Path, both: Both) -> None:
    a = write_parquet(tmp_path / "a.parquet", [call(i, day=1 + i % 2) for i in range(10)])
    b = write_parquet(tmp_path / "b.parquet", [call(i, day=3) for i in range(10, 15)])
    r = both.ingest("calls", [a, b], "direct")
    assert r.added == 15
    assert [f.rows_read for f in r.files] == [10, 5]
    names = sorted(f.name for f in lake_files(both.auto))
    assert len(names) == 3 and all(n.startswith(f"part-{r.ingest_id}-") for n in names)


def test_crlf_line_ends_and_a_last_line_without_one_are_clean(
    tmp_path: Path, both: Both
) -> None:
    src = write_csv(tmp_path / "a.csv", [call(i) for i in range(4)])
    src.write_bytes(src.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")[:-2])
    assert both.ingest("calls", [src], "direct").added == 4


@pytest.mark.parametrize(
    "bad",
    [
        {"caller": "x"},
        {"started_at": "2026-12-25 00:00:00"},
        {"started_at": "yesterday"},
        {"duration_s": "ninety"},
        {"duration_s": ""},
        {"duration_s": "-1"},
    ],
)
def test_a_bad_row_gives_exactly_the_exact_paths_results(
    tmp_path: Path, both: Both, bad: dict[str, str]
) -> None:
    clean = write_csv(tmp_path / "a.csv", [call(i) for i in range(5)])
    dirty = write_csv(tmp_path / "b.csv", [call(5), call(6, **bad), call(7, day=2)])
    r = both.ingest("calls", [clean, dirty], "exact")
    assert (r.added, sum(r.quarantined.values())) == (7, 1)


def test_a_bad_row_in_parquet_falls_back(tmp_path: Path, both: Both) -> None:
    src = write_parquet(tmp_path / "a.parquet", [call(1), call(2, ingress="pigeon")])
    assert both.ingest("calls", [src], "exact").added == 1


def test_blank_lines_and_malformed_records_fall_back(tmp_path: Path, both: Both) -> None:
    blank = write_csv(tmp_path / "a.csv", [call(i) for i in range(3)])
    blank.write_text(blank.read_text().replace("\n", "\n\n", 1))
    assert both.ingest("calls", [blank], "exact").added == 3
    short = write_csv(tmp_path / "b.csv", [call(i) for i in range(10, 13)])
    short.write_text(short.read_text() + "C9,2026-11-01 09:00:00,5\n")
    r = both.ingest("calls", [short], "exact")
    assert (r.added, dict(r.quarantined)) == (3, {"wrong_column_count": 1})


def test_a_quoted_field_spanning_lines_falls_back(tmp_path: Path, both: Both) -> None:
    src = write_csv(tmp_path / "a.csv", [call(1), call(2, callee_cell="460-00-1\n-2")])
    assert both.ingest("calls", [src], "exact").added == 2


def test_repeated_keys_fall_back_and_keep_the_first(tmp_path: Path, both: Both) -> None:
    a = write_csv(tmp_path / "a.csv", [call(1), call(2), call(1, duration_s="7")])
    b = write_csv(tmp_path / "b.csv", [call(2, day=3, duration_s="8")])
    r = both.ingest("calls", [a, b], "exact")
    assert (r.added, dict(r.quarantined)) == (2, {"duplicate_key": 2})


def test_repeats_are_found_without_the_in_memory_sort_too(
    tmp_path: Path, both: Both, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lake_module, "SORT_LIMIT", 0)  # DuckDB's distinct count instead
    a = write_csv(tmp_path / "a.csv", [call(i) for i in range(5)])
    both.ingest("calls", [a], "direct")
    b = write_csv(tmp_path / "b.csv", [call(i) for i in range(10, 15)] + [call(12, day=2)])
    assert both.ingest("calls", [b], "exact").added == 5


def test_reingesting_through_the_direct_path_adds_nothing(tmp_path: Path, both: Both) -> None:
    src = write_csv(tmp_path / "a.csv", [call(i, day=1 + i % 4) for i in range(20)])
    both.ingest("calls", [src], "direct")
    before = lake_files(both.auto)
    again = both.ingest("calls", [src], "direct")
    assert (again.added, again.already_present) == (0, 20)
    assert lake_files(both.auto) == before


def test_overlap_with_some_days_rewrites_only_those(tmp_path: Path, both: Both) -> None:
    first = write_csv(tmp_path / "a.csv", [call(i, day=1 + i % 2) for i in range(10)])
    both.ingest("calls", [first], "direct")
    # Days 2 and 3: day 2 holds lake files (keys 1, 3, 5, 7, 9 are there), day 3 is new.
    rows = [call(i, day=2) for i in (1, 3, 11, 13)] + [call(i, day=3) for i in (20, 21)]
    second = write_csv(tmp_path / "b.csv", rows)
    r = both.ingest("calls", [second], "direct")
    assert (r.added, r.already_present, r.days) == (4, 2, ("2026-11-02", "2026-11-03"))
    day3 = [f for f in lake_files(both.auto) if f.parent.name == "day=2026-11-03"]
    assert [pq.ParquetFile(f).metadata.num_rows for f in day3] == [2]


def test_a_key_already_in_another_day_of_the_ingest_is_not_added(
    tmp_path: Path, both: Both
) -> None:
    both.ingest("calls", [write_csv(tmp_path / "a.csv", [call(1, day=1)])], "direct")
    # C00000001 again, on a new day: the exact path skips it (the key is in a lake file of
    # day 1, which this ingest also writes to); the direct path must agree.
    second = write_csv(tmp_path / "b.csv", [call(2, day=1), call(1, day=5), call(3, day=6)])
    r = both.ingest("calls", [second], "direct")
    assert (r.added, r.already_present) == (2, 1)


def test_a_dimension_feed_takes_the_direct_path(tmp_path: Path, both: Both) -> None:
    def cell(i: int) -> dict[str, str]:
        return {**CELLS.example, "cell_id": f"460-00-{i}-1"}

    a = write_csv(tmp_path / "a.csv", [cell(i) for i in range(5)], CELLS.column_names)
    r = both.ingest("cells", [a], "direct")
    assert r.added == 5 and r.days == ()
    b = write_csv(tmp_path / "b.csv", [cell(i) for i in range(3, 8)], CELLS.column_names)
    r = both.ingest("cells", [b], "direct")
    assert (r.added, r.already_present) == (3, 2)
    again = both.ingest("cells", [b], "direct")
    assert (again.added, again.already_present) == (0, 5)
    assert len(lake_files(both.auto, "cells")) == 2  # no empty file for an ingest adding nothing


class Killed(BaseException):
    """The process dying: nothing in ingest catches it."""


def test_a_crash_while_moving_files_in_is_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    o = IngestOptions(tmp_path / "lake", tmp_path / "q")
    ingest("calls", [write_csv(tmp_path / "a.csv", [call(1, day=1)])], o, now=NOW)
    before = lake_files(o)
    src = write_csv(tmp_path / "b.csv", [call(i, day=2 + i % 3) for i in range(2, 8)])
    moved = 0
    real_replace = os.replace

    def dies_after_one(a: Any, b: Any) -> None:
        nonlocal moved
        if Path(b).suffix == ".parquet" and "_staging" not in Path(b).parts:
            if moved == 1:
                raise Killed
            moved += 1
        real_replace(a, b)

    monkeypatch.setattr(lake_module.os, "replace", dies_after_one)
    with pytest.raises(Killed):
        ingest("calls", [src], o, now=NOW)
    monkeypatch.undo()
    on_disk = sorted((o.lake_dir / "calls").rglob("*.parquet"))
    assert len(on_disk) == len(before) + 1  # the dead ingest left one file behind
    assert lake_files(o) == before  # which no reader sees: it never committed
    r = ingest("calls", [src], o, now=NOW)  # the next ingest first removes it
    assert (r.path, r.added, r.already_present) == ("direct", 6, 0)
    n = duckdb.sql(
        f"SELECT count(*), count(DISTINCT call_id) FROM read_parquet("
        f"{[str(f) for f in lake_files(o)]})"
    ).fetchall()
    assert n == [(7, 7)]
    assert len(Lake(o.lake_dir).history()) == 2


@pytest.mark.parametrize(("bad_file", "path"), [(None, "direct"), (0, "exact"), (1, "exact")])
def test_progress_counts_each_file_once_whichever_path(
    tmp_path: Path, bad_file: int | None, path: str
) -> None:
    def rows(k: int) -> list[dict[str, str]]:
        return [call(10 * k + i, caller="x" if k == bad_file else GOOD) for i in range(3)]

    files = [write_csv(tmp_path / f"{k}.csv", rows(k)) for k in range(3)]
    seen: list[int] = []
    o = IngestOptions(tmp_path / "lake", tmp_path / "q")
    r = ingest("calls", files, o, now=NOW, progress=seen.append)
    assert r.path == path
    assert sorted(seen) == sorted(f.stat().st_size for f in files)
