"""Detection's whole run on DuckDB and on Spark local, on the same synthetic calls.

    python -m bench engines --rows 1000000 --master 'local[2]'
    python -m bench engines --rows 100000 300000 1000000 --master 'local[*]' --repeat 2

Synthetic calls as ``bench features`` makes them (14 days, about 20 calls per caller), in a
folder of per-feed Parquet files; the detector's whole run (``Detector.features``: every feature
table, the shipped rules) on each engine, ``repeat`` times. Prints wall seconds per run (the
first Spark run includes starting the JVM's work on the plan; the medians are of the later
runs) and checks, on each size, that both engines give the same table. Spark's JVM time is not
this process's CPU time, so only wall seconds are compared.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.bench_features import UNTIL, feeds_folder, make_calls
from telshield.reference.numbering import load_plan_table
from telshield.services.alerts import InMemoryAlertSink
from telshield.services.detection import DetectConfig, Detector
from telshield.services.lakeread import Backend
from telshield.services.rules import load_rules
from telshield.settings import EngineSettings
from telshield.wiring.engine import Engine, spark_engine, spark_session


def _detector(eng: Engine, root: Path, plan_dir: Path) -> Detector:
    return Detector(eng.reader(root), InMemoryAlertSink(), DetectConfig(), load_rules(None),
                    plan=eng.memtable(load_plan_table(plan_dir)))


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a = a.sort_values("msisdn").reset_index(drop=True)
    b = b.sort_values("msisdn").reset_index(drop=True)
    assert list(a.columns) == list(b.columns) and len(a) == len(b), "tables differ in shape"
    for c in a.columns:
        x, y = a[c], b[c]
        if x.dtype.kind in "iufb" or y.dtype.kind in "iufb":
            x, y = x.astype("float64"), y.astype("float64")
        pd.testing.assert_series_equal(x, y, check_exact=True, check_dtype=False, obj=c)


def main(argv: list[str] | None = None) -> None:
    """Time both engines at each size."""
    ap = argparse.ArgumentParser(prog="bench engines", description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--master", default="local[2]", help="Spark master")
    ap.add_argument("--shuffle-partitions", default="4")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    settings = EngineSettings(name="spark", spark_master=args.master, spark_conf={
        "spark.sql.shuffle.partitions": args.shuffle_partitions, "spark.ui.enabled": "false",
        "spark.driver.memory": "4g"})
    spark = spark_engine(spark_session(settings))
    duck = Engine("duckdb", Backend())
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for n in args.rows:
            root = t / f"feeds-{n}"
            make_calls(n, t / f"calls-{n}.parquet")
            feeds_folder(t / f"calls-{n}.parquet", root)
            times: dict[str, list[float]] = {"duckdb": [], "spark": []}
            got: dict[str, pd.DataFrame] = {}
            for eng in (duck, spark):
                det = _detector(eng, root, t / "plan")
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    got[eng.name] = det.features(UNTIL)
                    times[eng.name].append(time.perf_counter() - start)
            _same(got["duckdb"], got["spark"])
            d, s = times["duckdb"], times["spark"]
            print(f"rows {n:>11,}  numbers {len(got['duckdb']):,}  wall s: duckdb "
                  f"{' '.join(f'{x:.1f}' for x in d)} (median {np.median(d):.1f}), spark "
                  f"{args.master} {' '.join(f'{x:.1f}' for x in s)} (median of later runs "
                  f"{np.median(s[1:] or s):.1f}); spark/duckdb "
                  f"{np.median(s[1:] or s) / np.median(d):.1f}x; same table: yes", flush=True)


if __name__ == "__main__":
    main()
