"""``python -m bench province`` (issue 17) at a tiny size, so that the province-sized bench
cannot rot: every step runs through the real CLI in its own child process, and the report holds
what each cost and what it did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_province_bench_runs_every_step_at_a_tiny_size(tmp_path: Path) -> None:
    work = tmp_path / "prov"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run(
        [sys.executable, "-m", "bench", "province", "--subscribers", "2000", "--days", "2",
         "--detect-every", "12", "--replay-day", "2", "--keep", str(work), "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    report = json.loads(res.stdout[res.stdout.index("\n{") + 1:])
    steps = {s["name"]: s for s in report["steps"]}
    assert list(steps) == ["generate", "init", "ingest", "cycle", "replay"]
    assert report["cycle_ticks"] == 4
    for s in steps.values():
        assert s["wall_s"] > 0 and s["cpu_s"] > 0 and s["peak_rss_mib"] > 50, s
    feeds = report["feed_rows"]
    assert feeds["calls"] > 10_000 and feeds["subscribers"] >= 2000
    assert steps["generate"]["rows"] == feeds["calls"] + feeds["sms"]
    assert steps["ingest"]["rows"] == sum(feeds.values())
    assert 0 < steps["replay"]["rows"] < feeds["calls"]
    assert "| **all** |" in res.stdout
    # The children did the work: the lake holds the calls, the cycle ticked at each 12 h of
    # feed time and detected, and the replay judged day 2 only.
    assert any((work / "data" / "lake" / "calls").rglob("*.parquet"))
    cycle = (work / "logs" / "4-cycle.log").read_text()
    assert [line[:16] for line in cycle.splitlines() if "detection scored" in line] == [
        "2026-10-01 12:00", "2026-10-02 00:00", "2026-10-02 12:00", "2026-10-03 00:00"]
    replay = (work / "logs" / "5-replay.log").read_text()
    assert "2026-10-02 00:00 .. 2026-10-02 23:59, 48 hours" in replay
