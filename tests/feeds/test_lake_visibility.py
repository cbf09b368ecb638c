"""Readers see an ingest all at once or not at all (issue 15): a reader listing the lake while an
ingest moves its files in (one day partition after another), or after the ingest was killed
between two renames, sees the lake as it was before that ingest — through ``Lake.files``, the
lake reader the detectors and the API use (``FeedReader``), and ``lake stats`` — and after the
commit (its manifest line) sees all of it.

The ingest runs in a child process, its renames into the lake slowed (or, for the kill, paused
after the second) by a wrapper around ``os.replace`` in that child only: the lake, DuckDB and
the files are real. Each test failed before the manifest switch (the reader saw some days of the
ingest and not others)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.feeds.csvs import write_csv
from tests.feeds.test_ingest_direct import NOW, call

from telshield.feeds.lake import Lake
from telshield.reference.schemas import CALLS
from telshield.services.ingest import IngestOptions, ingest
from telshield.services.lake import lake_stats
from telshield.services.lakeread import FeedReader

ROOT = Path(__file__).resolve().parents[2]
DAYS = 8

CHILD = """
import os, sys, time
from datetime import datetime
from pathlib import Path
from telshield.feeds import lake as lake_module
from telshield.services.ingest import IngestOptions, ingest

lake, q, src, mode = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
real, moved = os.replace, 0

def replace(a, b):
    global moved
    real(a, b)
    if Path(b).suffix == ".parquet" and "_staging" not in Path(b).parts:
        moved += 1
        if mode == "slow":
            time.sleep(0.15)  # a slow disk: readers have time to look between renames
        elif moved == 2:
            print("mid", flush=True)  # two of the ingest's days are in the lake, the rest not
            time.sleep(600)

lake_module.os.replace = replace
ingest("calls", [src], IngestOptions(lake, q), now=datetime.fromisoformat(sys.argv[5]))
print("done", flush=True)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _seen(o: IngestOptions) -> tuple[int, int, int, int]:
    """What three readers see of the calls feed: files, rows through the lake reader's table,
    rows and days in `lake stats`."""
    files = Lake(o.lake_dir).files(CALLS)
    rows = int(FeedReader(o.lake_dir).table("calls").count().to_pyarrow().as_py())
    stats = next(s for s in lake_stats(o.lake_dir, o.quarantine_dir) if s.feed == "calls")
    return len(files), rows, stats.rows, stats.days


def _lake_with_one_day(tmp: Path) -> tuple[IngestOptions, Path]:
    o = IngestOptions(tmp / "lake", tmp / "q")
    ingest("calls", [write_csv(tmp / "first.csv", [call(i, day=1) for i in range(50)])], o,
           now=NOW)
    # The next ingest repeats day 1's keys (that partition is rewritten without them) and adds
    # DAYS more days.
    rows = [call(i, day=1 + i % (DAYS + 1)) for i in range(2_000)]
    return o, write_csv(tmp / "days.csv", rows)


def _child(o: IngestOptions, src: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(o.lake_dir), str(o.quarantine_dir), str(src), mode,
         NOW.isoformat()], stdout=subprocess.PIPE, text=True, env=_env())


def test_a_reader_during_an_ingest_of_several_days_sees_all_or_nothing(tmp_path: Path) -> None:
    o, src = _lake_with_one_day(tmp_path)
    before = _seen(o)
    child = _child(o, src, "slow")
    seen: list[set[int]] = [set(), set(), set(), set()]  # what each reader saw
    while child.poll() is None:
        for k, v in enumerate(_seen(o)):  # the readers look one after another, so each
            seen[k].add(v)  # is judged alone
        time.sleep(0.02)
    assert child.returncode == 0
    after = _seen(o)
    assert after[1] == before[1] + 2_000 - 50 and after[3] == DAYS + 1
    for k, name in enumerate(("files", "reader rows", "stats rows", "stats days")):
        assert seen[k] <= {before[k], after[k]}, f"{name}: half an ingest seen: {seen[k]}"
        assert before[k] in seen[k]  # it did look while the ingest ran


def test_a_kill_between_two_renames_leaves_all_or_nothing(tmp_path: Path) -> None:
    o, src = _lake_with_one_day(tmp_path)
    before = _seen(o)
    child = _child(o, src, "pause")
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "mid":
                break
        else:
            raise AssertionError("the child ended before moving two files in")
        on_disk = sorted((o.lake_dir / "calls").rglob("*.parquet"))
        assert len(on_disk) == before[0] + 2  # two of its files are in the lake's folders
        assert _seen(o) == before  # and no reader sees them
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert _seen(o) == before  # nor after the kill, before any recovery
    r = ingest("calls", [src], o, now=NOW)  # the next ingest rolls the dead one back, and
    assert r.added == 2_000 - 50  # re-running it adds its rows once
    after = _seen(o)
    assert after[1] == before[1] + 2_000 - 50 and after[3] == DAYS + 1
    assert ingest("calls", [src], o, now=NOW).added == 0


def test_a_lake_without_a_manifest_shows_every_file(tmp_path: Path) -> None:
    """A lake laid out before ingests kept a manifest is read as it is."""
    o = IngestOptions(tmp_path / "lake", tmp_path / "q")
    ingest("calls", [write_csv(tmp_path / "a.csv", [call(i, day=2) for i in range(5)])], o,
           now=NOW)
    (o.lake_dir / "_ingests.jsonl").unlink()
    assert len(Lake(o.lake_dir).files(CALLS)) == 1
    assert _seen(o)[1] == 5


