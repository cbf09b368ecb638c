"""Hostile feed files (issue 15's hardening list): no silent coercion, no lost good row, no
traceback. Each case runs through both readers (the auto reader, which tries the direct path,
and the exact chunked one) and both must agree."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.feeds.csvs import write_csv
from tests.feeds.test_ingest_direct import NOW, Both, call, quarantined

from telshield.domain.errors import InvalidInput
from telshield.feeds.lake import Lake
from telshield.feeds.readers import feed_files
from telshield.reference.schemas import CALLS
from telshield.services.ingest import IngestOptions, ingest


def _lake_rows(both: Both) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for f in Lake(both.auto.lake_dir).files(CALLS):
        rows += pq.read_table(f).to_pylist()
    return sorted(rows, key=lambda r: str(r["call_id"]))


def _reasons(both: Both) -> dict[int, str]:
    """Quarantined line -> its problems."""
    return {line: problems for _, line, problems, _ in quarantined(both.auto)}


def test_a_value_that_is_not_a_whole_number_is_never_rounded(tmp_path: Path) -> None:
    rows = [call(1, duration_s="5.5"), call(2, duration_s="1e3"), call(3, duration_s="0x10"),
            call(4, duration_s="1_000"), call(5, duration_s="42"), call(6, duration_s="+7")]
    both = Both(tmp_path)
    r = both.ingest("calls", [write_csv(tmp_path / "c.csv", rows)], "exact")
    assert r.added == 2
    assert [row["duration_s"] for row in _lake_rows(both)] == [42, 7]
    bad = _reasons(both)
    assert sorted(bad) == [2, 3, 4, 5]
    assert all(p == "duration_s: bad_type" for p in bad.values())


def test_a_clean_file_of_whole_numbers_still_takes_the_direct_path(tmp_path: Path) -> None:
    rows = [call(i, duration_s=str(i)) for i in range(1, 20)]
    both = Both(tmp_path)
    assert both.ingest("calls", [write_csv(tmp_path / "c.csv", rows)], "direct").added == 19


def test_a_timestamp_with_an_offset_is_converted_to_china_time(tmp_path: Path) -> None:
    rows = [call(1, started_at="2026-11-01 02:00:00+00:00"),
            call(2, started_at="2026-11-01T10:00:00+08:00"),
            call(3, started_at="2026-11-01 01:30:00Z"),
            call(4, started_at="2026-11-01 05:00:00-0300"),
            call(5, started_at="2026-11-01 10:00:00+25:00"),
            call(6, started_at="2026-11-01 10:00:00")]
    both = Both(tmp_path)
    both.ingest("calls", [write_csv(tmp_path / "c.csv", rows)], "exact")
    got = {row["call_id"]: str(row["started_at"]) for row in _lake_rows(both)}
    assert got == {"C00000001": "2026-11-01 10:00:00", "C00000002": "2026-11-01 10:00:00",
                   "C00000003": "2026-11-01 09:30:00", "C00000004": "2026-11-01 16:00:00",
                   "C00000006": "2026-11-01 10:00:00"}
    assert _reasons(both) == {6: "started_at: bad_type"}


def test_control_characters_in_text_are_quarantined(tmp_path: Path) -> None:
    rows = [call(1, caller_cell="NJ-\x00-0001"), call(2, caller_cell="NJ-\x07-0002"),
            call(3, caller_cell="NJ-0003")]
    both = Both(tmp_path)
    assert both.ingest("calls", [write_csv(tmp_path / "c.csv", rows)], "exact").added == 1
    assert _reasons(both) == {2: "caller_cell: control_character",
                              3: "caller_cell: control_character"}


def test_a_ten_megabyte_field_loses_only_its_own_row(tmp_path: Path) -> None:
    rows = [call(i) for i in range(1, 3001)]
    rows[1500] = call(1501, caller_cell="x" * (10 * 2**20))
    both = Both(tmp_path)
    path = write_csv(tmp_path / "c.csv", rows)
    size = len(path.read_bytes().split(b"\n")[1501].rstrip(b"\r"))
    r = both.ingest("calls", [path], "exact")
    assert r.added == 2999
    bad = quarantined(both.auto)
    assert [(line, problems) for _, line, problems, _ in bad] == [
        (1502, f"record: field_too_long (a line of {size} bytes; the limit is 1048576)")]
    assert len(bad[0][3]) < 1000  # the quarantine keeps the start of the line, not 10 MB


def test_a_long_field_beside_a_short_row_loses_only_those_rows(tmp_path: Path) -> None:
    rows = [call(i) for i in range(1, 3002)]
    rows[10] = call(11, caller_cell="y" * 140_000)
    path = write_csv(tmp_path / "c.csv", rows)
    with path.open("a") as f:
        f.write("C99999999,2026-11-01 10:00:00\n")  # a short row
    both = Both(tmp_path)
    r = both.ingest("calls", [path], "exact")
    assert r.added == 3000
    assert _reasons(both) == {
        12: "caller_cell: field_too_long",
        3003: "record: wrong_column_count (expected 10 fields, found 2)"}


def test_links_that_leave_the_folder_are_skipped_and_reported(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    write_csv(folder / "a.csv", [call(1)])
    outside = write_csv(tmp_path / "outside.csv", [call(2)])
    os.symlink(outside, folder / "b.csv")
    os.symlink("/etc/passwd", folder / "c.csv")
    os.symlink(folder / "a.csv", folder / "d.csv")  # inside: fine, but the same file once
    skipped: list[str] = []
    files = feed_files([folder], skipped=skipped)
    assert files == [folder / "a.csv"]
    assert sorted(Path(s).name for s in skipped) == ["b.csv", "c.csv", "d.csv"]
    r = ingest("calls", [folder], IngestOptions(tmp_path / "lake", tmp_path / "q"), now=NOW)
    assert r.added == 1 and sorted(Path(s).name for s in r.skipped) == ["b.csv", "c.csv", "d.csv"]
    with pytest.raises(InvalidInput, match="only links"):
        empty = tmp_path / "links-only"
        empty.mkdir()
        os.symlink("/etc/passwd", empty / "x.csv")
        feed_files([empty])


def test_reingesting_a_bad_file_adds_no_quarantine_row(tmp_path: Path) -> None:
    rows = [call(1, duration_s="5.5"), call(2)]
    path = write_csv(tmp_path / "c.csv", rows)
    o = IngestOptions(tmp_path / "lake", tmp_path / "q")
    first = ingest("calls", [path], o, now=NOW)
    again = ingest("calls", [path], o, now=NOW)
    assert sum(first.quarantined.values()) == 1
    assert sum(again.quarantined.values()) == 0 and again.added == 0
    from telshield.feeds import quarantine

    assert quarantine.read(o.quarantine_dir).num_rows == 1


def test_a_line_longer_than_many_blocks_is_skipped_as_it_streams(tmp_path: Path) -> None:
    """Small blocks (64 KiB): the long line spans dozens of them and is read past, not held."""
    rows = [call(i) for i in range(1, 501)]
    rows[99] = call(100, caller_cell="z" * 3_000_000)
    path = write_csv(tmp_path / "c.csv", rows)
    size = len(path.read_bytes().split(b"\n")[100].rstrip(b"\r"))
    o = IngestOptions(tmp_path / "lake", tmp_path / "q", reader="chunked", chunk_rows=10,
                      max_line_bytes=100_000)
    r = ingest("calls", [path], o, now=NOW)
    assert r.added == 499
    from telshield.feeds import quarantine

    (bad,) = quarantine.read(o.quarantine_dir).to_pylist()
    assert bad["line"] == 101 and bad["reason"] == "field_too_long"
    assert bad["problems"] == (
        f"record: field_too_long (a line of {size} bytes; the limit is 100000)")
    assert bad["record"].startswith("C00000100,") and len(bad["record"]) < 300
    lines = sorted(pq.read_table(f).column("call_id").to_pylist()
                   for f in Lake(o.lake_dir).files(CALLS))
    assert len(lines[0]) == 499


def test_a_raw_id_number_never_reaches_quarantine_in_clear(tmp_path: Path) -> None:
    from telshield.feeds import quarantine
    from telshield.reference.schemas import SUBSCRIBERS

    raw = "11010519491231002X"
    good = dict(SUBSCRIBERS.example)
    rows = [good, {**good, "msisdn": "8613812345679", "id_hash": raw}]
    path = write_csv(tmp_path / "s.csv", rows, SUBSCRIBERS.column_names)
    with path.open("a") as f:
        f.write(f"8613812345670,{raw},short row\n")
    o = IngestOptions(tmp_path / "lake", tmp_path / "q")
    r = ingest("subscribers", [path], o, now=NOW)
    assert r.added == 1
    bad = quarantine.read(o.quarantine_dir).to_pylist()
    assert [b["reason"] for b in bad] == ["bad_hash", "wrong_column_count"]
    assert "[withheld: 18 characters, not a digest]" in bad[0]["record"]
    assert "[withheld ID number]" in bad[1]["record"]
    stored = b"".join(p.read_bytes() for p in (tmp_path / "q").rglob("*.parquet"))
    assert raw.encode() not in stored and raw not in str(bad)


def test_a_line_break_inside_a_quoted_field_keeps_its_record_on_the_exact_path(
    tmp_path: Path
) -> None:
    """Found by the fuzz suite: the exact reader split such a record into two bad halves (or
    kept it truncated at the break) once anything in the file sent it down the exact path."""
    rows = [call(i) for i in range(1, 41)]
    rows[3] = call(4, callee_cell="two\nlines, \"quoted\"")
    rows[20] = call(21, caller_cell="z" * 200_000)  # sends the file down the exact path
    rows[30] = call(31, caller_cell="a\r\nb", callee_cell="\n")
    both = Both(tmp_path)
    r = both.ingest("calls", [write_csv(tmp_path / "c.csv", rows)], "exact")
    assert r.added == 39
    got = {row["call_id"]: (row["caller_cell"], row["callee_cell"]) for row in _lake_rows(both)}
    assert got["C00000004"][1] == "two\nlines, \"quoted\""
    assert got["C00000031"] == ("a\r\nb", "\n")
    assert _reasons(both) == {23: "caller_cell: field_too_long"}
