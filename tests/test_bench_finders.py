"""``python -m bench finders``: its hand-written SQL still computes what the den finder's and the
hotspot scan's lake queries compute (the bench's equality check), on a small generated province."""

from __future__ import annotations

from pathlib import Path

from bench.bench_finders import measure, world

from telshield.reference.numbering import load_plan_table


def test_hand_written_sql_gives_the_finders_results(tmp_path: Path) -> None:
    w = world(33_000, tmp_path)  # 1,500 subscribers, about 30 k calls
    r = measure(w, 2, "1GB", load_plan_table(tmp_path / "plan"), check=True,
                spill=tmp_path / "spill")
    dens, hot = r["dens"][4], r["hotspots"][4]
    # The check compares real rows: the province holds den ports and out-of-province suspects.
    assert len(dens["ports"]) > 0 and len(dens["hours"]) > 0
    assert len(hot["activity"]) > 0 and len(hot["regions"]) > 0
