"""The fuzz suites at a large size: hypothesis over the feed readers and over the HTTP API.

    .venv/bin/python -m bench fuzz --examples 500

Runs ``tests/feeds/test_fuzz_feeds.py`` (hostile CSV and Parquet files through both readers:
no traceback, every bad row quarantined with a reason, no good row lost) and
``tests/api/test_openapi.py`` (every route from the OpenAPI spec: no 5xx) with ``--examples``
generated cases each instead of the suite's few, and prints the time each took.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = {"feeds": "tests/feeds/test_fuzz_feeds.py", "api": "tests/api/test_openapi.py"}


def main(argv: list[str]) -> None:
    """Run the chosen suites with many examples; exit non-zero if any fails."""
    ap = argparse.ArgumentParser(prog="python -m bench fuzz")
    ap.add_argument("--examples", type=int, default=500, help="cases per fuzzed test")
    ap.add_argument("--only", choices=sorted(SUITES), help="one suite")
    args = ap.parse_args(argv)
    env = {**os.environ, "FUZZ_EXAMPLES": str(args.examples),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT),
                                          os.environ.get("PYTHONPATH", "")])}
    failed = 0
    for name, path in SUITES.items():
        if args.only and name != args.only:
            continue
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            path], cwd=ROOT, env=env, check=False)
        print(f"fuzz {name}: {args.examples} examples per test, "
              f"{'passed' if r.returncode == 0 else 'FAILED'} in {time.perf_counter() - t0:.0f} s")
        failed |= r.returncode != 0
    sys.exit(1 if failed else 0)
