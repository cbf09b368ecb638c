"""Ingest a calls CSV as an operator exports it, through a feed profile, against the same rows in
our own schema without one.

    python -m bench ingest_profile --rows 2000000 --repeat 3

The foreign file has other column names (Chinese), ingress written as 本网/网间/国际 and call
times in UTC; its profile renames the columns, maps the values and converts the times to China
Standard Time, all in the direct path's COPY. Both ingests run in fresh subprocesses on files of
the same rows, alternating, the best time of each counting; the figure is their ratio.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench.bench_ingest import GENERATE, _run

# The same rows as bench_ingest's, exported the foreign way: the times are those of the canonical
# file less eight hours (UTC), so that both land on the same China Standard Time.
FOREIGN = """
COPY (
  SELECT call_id AS 话单号,
    strftime(CAST(started_at AS TIMESTAMP) - INTERVAL 8 HOUR, '%Y-%m-%d %H:%M:%S')
    AS 开始时间,
    duration_s AS 通话时长, caller AS 主叫号码, callee AS 被叫号码,
    CASE ingress WHEN 'radio' THEN '本网' WHEN 'interconnect' THEN '网间' ELSE '国际' END
      AS 接入方式,
    caller_cell AS 主叫小区, caller_imei AS 主叫IMEI, callee_cell AS 被叫小区
  FROM read_csv('{canonical}', all_varchar=true)
) TO '{path}' (HEADER, DELIMITER ',')
"""

PROFILE = """
name = "bench-cdr"
[calls]
timezone = "UTC"
[calls.columns]
call_id = "话单号"
started_at = "开始时间"
duration_s = "通话时长"
caller = "主叫号码"
callee = "被叫号码"
ingress = "接入方式"
caller_cell = "主叫小区"
caller_imei = "主叫IMEI"
callee_cell = "被叫小区"
[calls.values.ingress]
"本网" = "radio"
"网间" = "interconnect"
"国际" = "international"
"""

INGEST = """
import sys, time
from datetime import datetime
from pathlib import Path
from telshield.feeds.profiles import load_profile
from telshield.services.ingest import IngestOptions, ingest
profiles = {{"calls": load_profile(Path("{profile}"))}} if "{profile}" else {{}}
t = time.perf_counter()
r = ingest("calls", [Path("{csv}")], IngestOptions(Path("{lake}"), Path("{q}"),
           profiles=profiles), now=datetime(2026, 11, 29))
assert r.added == {rows} and not r.quarantined, (r.added, r.quarantined)
import duckdb, resource
threads = duckdb.connect().sql("SELECT current_setting('threads')").fetchall()[0][0]
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, threads, r.path)
"""


def main(argv: list[str]) -> None:
    """Generate both files, ingest each, print the figures."""
    p = argparse.ArgumentParser(prog="python -m bench ingest_profile", description=__doc__)
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--repeat", type=int, default=1, help="alternate runs; best time of each")
    a = p.parse_args(argv)
    import duckdb

    with tempfile.TemporaryDirectory(dir=a.workdir) as tmp:
        d = Path(tmp)
        ours, foreign, profile = d / "calls.csv", d / "foreign.csv", d / "bench-cdr.toml"
        duckdb.sql(GENERATE.format(rows=a.rows, path=ours))
        duckdb.sql(FOREIGN.format(canonical=ours, path=foreign))
        profile.write_text(PROFILE, "utf-8")
        plain, profiled = [], []
        for i in range(a.repeat):
            plain.append(_run(INGEST.format(csv=ours, lake=d / f"a-{i}", q=d / f"qa-{i}",
                                            profile="", rows=a.rows)))
            profiled.append(_run(INGEST.format(csv=foreign, lake=d / f"b-{i}", q=d / f"qb-{i}",
                                               profile=profile, rows=a.rows)))
            # The same rows in the same lake layout: the profile changed nothing but the form.
            if i == 0:
                same = duckdb.execute(
                    f"SELECT count(*) FROM (SELECT * FROM read_parquet('{d}/a-0/calls/*/*.parquet')"
                    f" EXCEPT SELECT * FROM read_parquet('{d}/b-0/calls/*/*.parquet'))"
                ).fetchall()[0][0]
                assert same == 0, f"{same} rows differ between the two lakes"
    base_s = min(x[0] for x in plain)
    prof_s = min(x[0] for x in profiled)
    print(json.dumps({
        "rows": a.rows,
        "ingest_without_profile_s": round(base_s, 2),
        "ingest_with_profile_s": round(prof_s, 2),
        "rows_per_s_without": round(a.rows / base_s),
        "rows_per_s_with": round(a.rows / prof_s),
        "speed_with_vs_without": round(base_s / prof_s, 2),
        "peak_rss_mib_without_with": [round(max(x[1] for x in plain)),
                                      round(max(x[1] for x in profiled))],
        "paths": [plain[0][3], profiled[0][3]],
        "ratio_each_pair": [round(b[0] / o[0], 2) for b, o in zip(plain, profiled, strict=True)],
    }, indent=2))
