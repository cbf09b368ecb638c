"""The drop folder of `telshield run --watch`: settled files ingested reference feeds first and
moved to .done, a file that cannot be read to .failed with its reason, the rest left alone."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq

from telshield.reference.schemas import FEEDS
from telshield.services.inbox import Inbox
from telshield.services.ingest import IngestOptions
from telshield.services.lakeread import FeedReader

from .feeds import write_feed

NOW = datetime(2026, 11, 10)


def _old(path: Path, seconds: float = 60) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def _inbox(tmp_path: Path) -> Inbox:
    opts = IngestOptions(lake_dir=tmp_path / "lake", quarantine_dir=tmp_path / "quarantine")
    return Inbox(tmp_path / "drop", opts, settle_s=5, now=lambda: NOW)


def test_settled_files_are_ingested_and_moved(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    cells = write_feed(drop, "cells", [{"cell_id": "C1", "lat": 32.0, "lon": 118.8,
                                        "county": "Jiangning", "city": "Nanjing",
                                        "province": "Jiangsu"}], name="cells-1")
    calls = write_feed(drop, "calls", [
        {"call_id": f"K{i}", "started_at": datetime(2026, 11, 9, 10, i), "duration_s": 5,
         "caller": "8613800000001", "callee": "8613900000002", "ingress": "radio"}
        for i in range(3)], name="calls-1")
    fresh = write_feed(drop, "calls", [
        {"call_id": "K9", "started_at": datetime(2026, 11, 9, 11), "duration_s": 5,
         "caller": "8613800000001", "callee": "8613900000002", "ingress": "radio"}],
        name="calls-2")
    partial = drop / "calls" / "calls-3.parquet.part"
    partial.write_bytes(b"half a file")
    for p in (cells, calls, partial):
        _old(p)
    inbox = _inbox(tmp_path)
    assert [p.name for _, p in inbox.pending()] == ["cells-1.parquet", "calls-1.parquet"]

    r = inbox.collect()
    assert [(f.feed, f.name, f.rows, f.error) for f in r.files] == [
        ("cells", "cells-1.parquet", 1, ""), ("calls", "calls-1.parquet", 3, "")]
    assert r.added == 4 and r.failed == 0
    assert (drop / ".done" / "calls" / "calls-1.parquet").exists() and not calls.exists()
    assert fresh.exists() and partial.exists()  # still being written: next time
    reader = FeedReader(tmp_path / "lake")
    assert reader.con.execute(reader.table("calls").count()) == 3

    _old(fresh)
    assert inbox.collect().added == 1
    assert inbox.collect().files == []  # nothing left


def test_a_file_that_cannot_be_read_goes_to_failed_and_the_rest_go_in(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    good = write_feed(drop, "calls", [
        {"call_id": "K1", "started_at": datetime(2026, 11, 9, 10), "duration_s": 5,
         "caller": "8613800000001", "callee": "8613900000002", "ingress": "radio"}], name="a")
    bad = drop / "calls" / "b.csv"
    bad.write_text("this,is,not\nthe,calls,feed\n")
    for p in (good, bad):
        _old(p)
    r = _inbox(tmp_path).collect()
    assert r.failed == 1 and r.added == 1
    (failed,) = [f for f in r.files if f.error]
    assert failed.name == "b.csv"
    moved = drop / ".failed" / "calls" / "b.csv"
    assert moved.exists() and not bad.exists()
    reason = moved.with_name("b.csv.error").read_text()
    assert reason.strip() == failed.error and "InvalidInput" in reason
    assert (drop / ".done" / "calls" / "a.parquet").exists()
    assert pq.read_table(drop / ".done" / "calls" / "a.parquet").schema.names == \
        FEEDS["calls"].column_names
