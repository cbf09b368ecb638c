"""Ingest a calls CSV with validation on, against DuckDB's own CSV -> Parquet COPY of the file.

    python -m bench ingest --rows 10000000

Both run in fresh subprocesses on the same file (already in the page cache for both, as it was
just written), in the same run, with DuckDB's default threads (one per core; each child prints
how many it used); the figure is the ratio of their speeds, and each one's peak resident memory
is reported. With ``--repeat N`` they alternate N times and the best time of each counts, which
damps the noise of a shared machine; every pair's ratio is printed too.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENERATE = """
COPY (
  SELECT
    'C' || lpad(i::VARCHAR, 12, '0') AS call_id,
    TIMESTAMP '2026-11-01' + to_seconds((i * 7919) % (7 * 86400)) AS started_at,
    CASE WHEN i % 4 = 0 THEN 0 ELSE (i * 31) % 600 END AS duration_s,
    '86138' || lpad(((i * 104729) % 99999999)::VARCHAR, 8, '0') AS caller,
    '86139' || lpad(((i * 15485863) % 99999999)::VARCHAR, 8, '0') AS callee,
    CASE WHEN i % 10 = 0 THEN 'interconnect' WHEN i % 97 = 0 THEN 'international'
         ELSE 'radio' END AS ingress,
    CASE WHEN i % 10 = 0 THEN NULL ELSE '460-00-' || (i % 50000)::VARCHAR || '-1' END
      AS caller_cell,
    CASE WHEN i % 10 = 0 THEN NULL ELSE '86' || lpad((i % 999999999999)::VARCHAR, 12, '0') END
      AS caller_imei,
    '460-00-' || ((i * 7) % 50000)::VARCHAR || '-2' AS callee_cell
  FROM range({rows}) t(i)
) TO '{path}' (HEADER, DELIMITER ',')
"""

BASELINE = """
import duckdb, sys, time
t = time.perf_counter()
duckdb.sql("COPY (SELECT * FROM read_csv('{csv}')) TO '{out}' (FORMAT parquet)")
import resource
threads = duckdb.sql("SELECT current_setting('threads')").fetchall()[0][0]
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, threads, "-")
"""

TELSHIELD = """
import sys, time
from datetime import datetime
from pathlib import Path
from telshield.services.ingest import IngestOptions, ingest
t = time.perf_counter()
r = ingest("calls", [Path("{csv}")], IngestOptions(Path("{lake}"), Path("{q}"), chunk_rows={chunk}),
           now=datetime(2026, 11, 29))
assert r.added == {rows} and not r.quarantined, (r.added, r.quarantined)
import duckdb, resource
threads = duckdb.connect().sql("SELECT current_setting('threads')").fetchall()[0][0]
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, threads, r.path)
"""


def _run(code: str) -> tuple[float, float, int, str]:
    """Seconds the code reports, the child's own peak RSS in MiB, DuckDB's threads there, and
    the ingest path taken (telshield only)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, peak_kib, threads, path = out.stdout.strip().splitlines()[-1].split()
    return float(seconds), int(peak_kib) / 1024, int(threads), path


def main(argv: list[str]) -> None:
    """Generate the file, run the baseline and telshield, print the figures."""
    p = argparse.ArgumentParser(prog="python -m bench ingest", description=__doc__)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--chunk-rows", type=int, default=1_000_000)
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--repeat", type=int, default=1, help="alternate runs; best time of each")
    a = p.parse_args(argv)
    import duckdb

    with tempfile.TemporaryDirectory(dir=a.workdir) as tmp:
        d = Path(tmp)
        csv = d / "calls.csv"
        t = time.perf_counter()
        duckdb.sql(GENERATE.format(rows=a.rows, path=csv))
        gen = time.perf_counter() - t
        size = csv.stat().st_size / 2**20
        base, ours = [], []
        for i in range(a.repeat):
            base.append(_run(BASELINE.format(csv=csv, out=d / f"baseline-{i}.parquet")))
            ours.append(
                _run(
                    TELSHIELD.format(
                        csv=csv, lake=d / f"lake-{i}", q=d / f"q-{i}", chunk=a.chunk_rows,
                        rows=a.rows,
                    )
                )
            )
    base_s, base_mb = min(b[0] for b in base), max(b[1] for b in base)
    ts_s, ts_mb = min(o[0] for o in ours), max(o[1] for o in ours)
    result = {
        "rows": a.rows,
        "csv_mib": round(size),
        "generate_s": round(gen, 1),
        "duckdb_copy_s": round(base_s, 2),
        "duckdb_copy_rows_per_s": round(a.rows / base_s),
        "telshield_ingest_s": round(ts_s, 2),
        "telshield_rows_per_s": round(a.rows / ts_s),
        "speed_vs_duckdb_copy": round(base_s / ts_s, 2),
        "peak_rss_mib_duckdb_copy": round(base_mb),
        "peak_rss_mib_telshield": round(ts_mb),
        "duckdb_threads_copy_telshield": [base[0][2], ours[0][2]],
        "telshield_path": ours[0][3],
        "ratio_each_pair": [round(b[0] / o[0], 2) for b, o in zip(base, ours, strict=True)],
    }
    print(json.dumps(result, indent=2))
