"""A province-sized week through the whole pipeline, each step by the product's own CLI in a
child process of its own, timed and measured:

    .venv/bin/python -m bench province --subscribers 1000000 --days 7
    .venv/bin/python -m bench province --subscribers 100000 --days 7 --keep runs/prov100k --json

1. ``telshield world generate`` — the simulated province (Parquet feeds plus truth/);
2. ``telshield init`` — a fresh data directory (lake, quarantine, store);
3. ``telshield ingest files all`` — every feed of the province into the lake, every check on;
4. ``telshield run --start ... --every 6h --ticks N`` — the operating cycle an operator runs,
   on a simulated clock over the whole period: police clues, escalation, detection (due every
   ``--detect-every`` hours, ``cycle.detect_every``), disposal, device barring and the screening
   snapshot at every tick;
5. ``telshield evaluate replay --no-ingest --hours 24K --warmup-hours 24(K-1)`` — the
   whole-system replay of day K (screening each hour's calls with that hour's snapshot,
   detection, disposal), in a data directory of its own. The replay runs from the province's
   first hour, so the days before K are replayed too (in shadow mode, their calls not judged):
   it cannot start later, as detection needs the history.

Wall time, CPU time (user + system) and peak RSS of each child come from ``os.wait4`` (the
child and the processes it waited for); rows per second are the step's rows over its wall time.
The machine's 1-minute load average is printed before and after each step.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2026, 10, 1)
SETTINGS = """# written by python -m bench province
[cycle]
every = "{every}h"
detect_every = "{every}h"
metrics_port = 0
"""


@dataclass
class Step:
    """One child process: what it ran and what it cost."""

    name: str
    command: list[str]
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    rows: int
    rows_what: str
    load_before: float
    load_after: float

    @property
    def rows_per_s(self) -> float | None:
        """The step's rows over its wall time (None without rows)."""
        return self.rows / self.wall_s if self.rows and self.wall_s > 0 else None


def _child(name: str, args: list[str], log: Path, rows: int = 0, rows_what: str = "") -> Step:
    """Run ``telshield ARGS`` in a child process; its output goes to ``log``."""
    command = [sys.executable, "-m", "telshield", *args]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "COLUMNS": "200"})
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:])
        raise SystemExit(f"step {name} failed (exit {proc.returncode}): {' '.join(args)}\n{tail}")
    return Step(name, ["telshield", *args], wall, usage.ru_utime + usage.ru_stime,
                usage.ru_maxrss / 1024, rows, rows_what, load, os.getloadavg()[0])


def _feed_rows(world: Path) -> dict[str, int]:
    """Rows of each feed of a generated province (Parquet footers; truth/ left out)."""
    import pyarrow.parquet as pq

    counts: dict[str, int] = {}
    for feed in sorted(p for p in world.iterdir() if p.is_dir() and p.name != "truth"):
        files = sorted(feed.rglob("*.parquet"))
        counts[feed.name] = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return counts


def _calls_between(world: Path, start: datetime, end: datetime) -> int:
    """Call rows of the province in [start, end)."""
    import duckdb

    glob = str(world / "calls" / "**" / "*.parquet")
    row = duckdb.execute("SELECT count(*) FROM read_parquet(?) WHERE started_at >= ? "
                         "AND started_at < ?", [glob, start, end]).fetchone()
    return int(row[0]) if row else 0


def run(subscribers: int, days: int, *, seed: int = 7, detect_every: int = 6,
        replay_day: int = 1, work: Path) -> dict[str, Any]:
    """Run the five steps under ``work`` (created, must be empty); returns the report."""
    if 24 % detect_every:
        raise SystemExit("--detect-every must divide 24")
    if not 1 <= replay_day <= days:
        raise SystemExit(f"--replay-day must be 1..{days}")
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()):
        raise SystemExit(f"{work} is not empty")
    world, data, replay = work / "world", work / "data", work / "replay"
    logs = work / "logs"
    logs.mkdir()
    config = work / "settings.toml"
    config.write_text(SETTINGS.format(every=detect_every))
    steps: list[Step] = []

    def step(name: str, args: list[str], rows: int = 0, what: str = "") -> None:
        s = _child(name, args, logs / f"{len(steps) + 1}-{name}.log", rows, what)
        steps.append(s)
        print(f"  {s.name:<9} {s.wall_s:8.1f} s wall  {s.cpu_s:8.1f} s CPU  "
              f"{s.peak_rss_mib:8,.0f} MiB peak  (load {s.load_before:.1f} -> {s.load_after:.1f})",
              flush=True)

    print(f"province: {subscribers:,} subscribers x {days} days, seed {seed}, in {work}",
          flush=True)
    step("generate", ["world", "generate", "--out", str(world), "--subscribers",
                      str(subscribers), "--days", str(days), "--seed", str(seed),
                      "--start", f"{START:%Y-%m-%d %H:%M:%S}"])
    feeds = _feed_rows(world)
    steps[-1].rows, steps[-1].rows_what = feeds.get("calls", 0) + feeds.get("sms", 0), "call+SMS"
    step("init", ["init", "--data-dir", str(data), "--config", str(config)])
    step("ingest", ["ingest", "files", "all", str(world), "--data-dir", str(data),
                    "--config", str(config)], sum(feeds.values()), "feed rows")
    ticks = days * 24 // detect_every
    first = START + timedelta(hours=detect_every)
    step("cycle", ["--log-level", "info", "run", "--start", f"{first:%Y-%m-%d %H:%M}",
                   "--every", f"{detect_every}h", "--ticks", str(ticks),
                   "--data-dir", str(data), "--config", str(config)],
         feeds.get("calls", 0), "calls")
    day0 = START + timedelta(days=replay_day - 1)
    step("replay", ["evaluate", "replay", "--world", str(world), "--no-ingest",
                    "--hours", str(24 * replay_day), "--warmup-hours", str(24 * (replay_day - 1)),
                    "--detect-every", str(detect_every), "--data-dir", str(replay),
                    "--config", str(config)],
         _calls_between(world, day0, day0 + timedelta(days=1)), f"calls of day {replay_day}")
    return {
        "subscribers": subscribers, "days": days, "seed": seed, "detect_every_h": detect_every,
        "replay_day": replay_day, "cycle_ticks": ticks, "feed_rows": feeds,
        "cpus": os.cpu_count(),
        "steps": [{**asdict(s), "rows_per_s": s.rows_per_s} for s in steps],
        "total_wall_s": sum(s.wall_s for s in steps),
        "peak_rss_mib": max(s.peak_rss_mib for s in steps),
    }


def table(report: dict[str, Any]) -> str:
    """The steps as a Markdown table, for docs/performance.md."""
    lines = ["| step | wall | CPU | peak RSS | rows | rows/s | load avg before → after |",
             "|---|---|---|---|---|---|---|"]
    for s in report["steps"]:
        rows = f"{s['rows']:,} {s['rows_what']}" if s["rows"] else "-"
        rate = f"{s['rows_per_s']:,.0f}" if s["rows_per_s"] else "-"
        lines.append(f"| {s['name']} | {s['wall_s']:,.1f} s | {s['cpu_s']:,.1f} s | "
                     f"{s['peak_rss_mib']:,.0f} MiB | {rows} | {rate} | "
                     f"{s['load_before']:.1f} → {s['load_after']:.1f} |")
    lines.append(f"| **all** | **{report['total_wall_s']:,.1f} s** | "
                 f"{sum(s['cpu_s'] for s in report['steps']):,.1f} s | "
                 f"**{report['peak_rss_mib']:,.0f} MiB** | | | |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    """Generate, init, ingest, run the cycle over the period, replay a day; print the figures."""
    ap = argparse.ArgumentParser(prog="python -m bench province")
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--detect-every", type=int, default=6, help="hours between cycle ticks")
    ap.add_argument("--replay-day", type=int, default=1, help="the day the replay judges")
    ap.add_argument("--keep", type=Path, default=None,
                    help="work here (an empty or new folder) and keep it; default: a temporary "
                    "folder, removed at the end")
    ap.add_argument("--json", action="store_true", help="print the report as JSON too")
    args = ap.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="telshield-bench-province-"))
    try:
        report = run(args.subscribers, args.days, seed=args.seed, detect_every=args.detect_every,
                     replay_day=args.replay_day, work=work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(report))
    if args.json:
        print(json.dumps(report, indent=2))
