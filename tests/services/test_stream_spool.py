"""A stream batch's messages spooled into one file per header: each bad row is still
quarantined under its own message (subject#sequence) and line, and the same messages in other
groupings add nothing. No bus needed: deliveries are made here, as the adapter makes them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from telshield.domain.stream import Delivery
from telshield.feeds import quarantine
from telshield.feeds.lake import Lake
from telshield.reference.schemas import CALLS, FEEDS
from telshield.services.ingest import IngestOptions
from telshield.services.stream import StreamOptions, ingest_batch

AT = datetime(2026, 11, 29)
COLS = CALLS.column_names


def message(ids: range, cols: list[str] = COLS, bad: dict[int, tuple[str, str]] | None = None,
            extra: list[str] | None = None) -> bytes:
    """A calls CSV message; ``bad`` sets a field of the record at an index to a bad value;
    ``extra`` adds raw lines at the end."""
    lines = [",".join(cols)]
    for k, i in enumerate(ids):
        r = {**CALLS.example, "call_id": f"S{i:09d}"}
        if bad and k in bad:
            field, value = bad[k]
            r[field] = value
        lines.append(",".join(r[c] for c in cols))
    return ("\n".join(lines + (extra or [])) + "\n").encode()


def deliveries() -> list[Delivery]:
    flipped = list(reversed(COLS))
    data = [
        message(range(0, 5)),                                          # 1 clean
        message(range(5, 10), bad={2: ("duration_s", "long")}),        # 2 line 4 bad
        message(range(10, 12)),                                        # 3 clean
        b"call_id,started_at\n",                                       # 4 lacks columns
        message(range(12, 15), flipped, bad={0: ("duration_s", "x")}),  # 5 other order, line 2
        message(range(15, 18), extra=["a,b"]),                         # 6 line 5: short record
        (",".join(COLS) + "\n").encode(),                              # 7 a header alone
        message(range(18, 21), bad={1: ("duration_s", "-")}),          # 8 line 3 bad
        message(range(21, 23)).replace(b"S000000021", b'"S000000021"'),  # 9 quoted: own file
    ]
    return [Delivery("feeds.calls", n, d, 1, None) for n, d in enumerate(data, start=1)]


def lake_keys(lake: Path) -> tuple[int, int]:
    files = Lake(lake).files(FEEDS["calls"])
    lst = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    n, d = duckdb.sql(
        f"SELECT count(*), count(DISTINCT call_id) FROM read_parquet({lst})").fetchall()[0]
    return int(n), int(d)


def where(qdir: Path) -> dict[tuple[str, int], str]:
    return {(r["source_file"], r["line"]): r["reason"]
            for r in quarantine.read(qdir, "calls").to_pylist()}


EXPECTED = {
    ("feeds.calls#2", 4): "bad_type",
    ("feeds.calls#4", 1): "bad_message",
    ("feeds.calls#5", 2): "bad_type",
    ("feeds.calls#6", 5): "wrong_column_count",
    ("feeds.calls#8", 3): "bad_type",
}


def test_spooled_batch_names_each_message_and_line(tmp_path: Path) -> None:
    opts = IngestOptions(tmp_path / "lake", tmp_path / "q")
    b = ingest_batch(deliveries(), opts, StreamOptions("calls", tmp_path / "spool"), AT)
    assert where(opts.quarantine_dir) == EXPECTED
    assert b.added == 23 - 3  # 23 records, 3 with a bad value; the short one is not a record
    assert b.bad_messages == 1
    assert lake_keys(opts.lake_dir) == (20, 20)
    manifest = Lake(opts.lake_dir).history()[-1]
    # three spool files: messages 1-3, 6, 8 under the feed's header; 5 (other order); 9 (quoted)
    assert [f["path"] for f in manifest["files"]] == [
        "feeds.calls#1..8", "feeds.calls#5", "feeds.calls#9"]
    assert [f["quarantined"] for f in manifest["files"]] == [3, 1, 0]


def test_regrouped_redelivery_adds_nothing(tmp_path: Path) -> None:
    """The same messages again, one at a time and then in pairs: nothing new anywhere."""
    opts = IngestOptions(tmp_path / "lake", tmp_path / "q")
    so = StreamOptions("calls", tmp_path / "spool")
    ingest_batch(deliveries(), opts, so, AT)
    before = len(quarantine.read(opts.quarantine_dir, "calls"))
    assert before == len(EXPECTED)
    ds = deliveries()
    for group in [ds[i:i + 1] for i in range(len(ds))] + [ds[i:i + 2] for i in range(0, 9, 2)]:
        b = ingest_batch(group, opts, so, AT)
        assert (b.added, sum(b.quarantined.values())) == (0, 0), [d.seq for d in group]
    assert len(quarantine.read(opts.quarantine_dir, "calls")) == before
    assert lake_keys(opts.lake_dir) == (20, 20)
