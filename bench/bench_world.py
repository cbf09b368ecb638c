"""Generate a province and report call+SMS rows per second, against a baseline measured in the
same run: writing the same number of rows of the same schemas from ready-made random arrays
(pyarrow, Parquet, zstd) — the cost of the output alone, with no simulation behind it.

    .venv/bin/python -m bench world --subscribers 1000000 --days 7
    .venv/bin/python -m bench world --randomise --seed 1000    # a province drawn from the prior

Each side runs in a fresh process; peak RSS is the child's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

SIMULATE = """
import json, sys, time
from pathlib import Path
from telshield.world.config import load_config, randomised
from telshield.world.generate import generate
cfg = load_config(None, subscribers={subs}, days={days}, start="2026-10-01 00:00:00")
cfg = randomised(cfg) if {randomise} else cfg
t0 = time.perf_counter()
s = generate(cfg, {seed}, Path(sys.argv[1]))
print(json.dumps({{"rows": s.traffic_rows, "seconds": time.perf_counter() - t0}}))
"""

BASELINE = """
import json, sys, time
from pathlib import Path
import numpy as np, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
from telshield.world.tables import FEED_SCHEMAS
rows, days = {rows}, {days}
rng = np.random.default_rng(0)
out = Path(sys.argv[1])
t0 = time.perf_counter()
for name, share in (("calls", {call_share}), ("sms", 1 - {call_share})):
    (out / name).mkdir(parents=True)
    n = int(rows * share / days)
    for d in range(days):
        cols = []
        for f in FEED_SCHEMAS[name]:
            if f.type == pa.string():
                v = pc.cast(pa.array(rng.integers(8613000000000, 8619999999999, n)), pa.string())
            elif f.type == pa.int32():
                v = pa.array(rng.integers(0, 600, n).astype(np.int32))
            else:
                v = pa.array(rng.integers(1.7e15, 1.8e15, n)).cast(pa.timestamp("us"))
            cols.append(v)
        t = pa.Table.from_arrays(cols, schema=FEED_SCHEMAS[name])
        pq.write_table(t, out / name / f"part-{{d:05d}}.parquet", compression="zstd")
print(json.dumps({{"rows": rows, "seconds": time.perf_counter() - t0}}))
"""


def _run(code: str, out: Path) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                         check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result: dict[str, float] = json.loads(res.stdout.strip().splitlines()[-1])
    result["peak_rss_mib"] = max(before, after) / 1024
    return result


def main(argv: list[str]) -> None:
    """Run the simulator and the write-only baseline; print rows/s and the ratio."""
    ap = argparse.ArgumentParser(prog="python -m bench world")
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--randomise", action="store_true", help="draw the province from the prior")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sim = _run(SIMULATE.format(subs=args.subscribers, days=args.days, seed=args.seed,
                                   randomise=args.randomise),
                   Path(tmp) / "sim")
        calls = sum(1 for _ in (Path(tmp) / "sim" / "calls").iterdir())
        base = _run(BASELINE.format(rows=int(sim["rows"]), days=max(calls, 1), call_share=0.79),
                    Path(tmp) / "base")
    sim_rate = sim["rows"] / sim["seconds"]
    base_rate = base["rows"] / base["seconds"]
    kind = ", drawn from the prior" if args.randomise else ""
    print(f"province: {args.subscribers:,} subscribers x {args.days} days, seed {args.seed}{kind}")
    print(f"simulator : {sim['rows']:,.0f} call+SMS rows in {sim['seconds']:.1f} s = "
          f"{sim_rate:,.0f} rows/s (whole run, set-up included), peak RSS "
          f"{sim['peak_rss_mib']:,.0f} MiB")
    print(f"write-only: {base['rows']:,.0f} rows in {base['seconds']:.1f} s = "
          f"{base_rate:,.0f} rows/s")
    print(f"simulator speed / write-only speed = {sim_rate / base_rate:.2f}")
