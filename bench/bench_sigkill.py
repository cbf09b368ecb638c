"""SIGKILL at many random points of an ingest, a list import, a bulk disposal and a police
control approval (block and suspend, SQLite and PostgreSQL).

    .venv/bin/python -m bench sigkill --kills 10 --seed 1
    .venv/bin/python -m bench sigkill --kills 10 --only police

Runs ``tests/test_sigkill.py`` with ``--kills`` seeded kill points per command instead of the
suite's two: after each kill -9 the lake and the store hold all or nothing of the command, the
audit chain verifies, and re-running it completes the work and adds nothing more. The kill
points (delay, whether the command had finished, what was left) are printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> None:
    """Run the SIGKILL suite with many kill points; exit non-zero if any check fails."""
    ap = argparse.ArgumentParser(prog="python -m bench sigkill")
    ap.add_argument("--kills", type=int, default=10, help="kill points per command")
    ap.add_argument("--seed", type=int, default=15, help="seed of the kill points")
    ap.add_argument("--only", default="", help="only these commands (a pytest -k expression: "
                    "ingest, list, bulk, police, sqlite, postgres)")
    args = ap.parse_args(argv)
    env = {**os.environ, "SIGKILL_POINTS": str(args.kills), "SIGKILL_SEED": str(args.seed),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT),
                                          os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                        "tests/test_sigkill.py", *(["-k", args.only] if args.only else [])],
                       cwd=ROOT, env=env, check=False)
    print(f"sigkill: {args.kills} kills per command (seed {args.seed}), "
          f"{'passed' if r.returncode == 0 else 'FAILED'} in {time.perf_counter() - t0:.0f} s")
    sys.exit(r.returncode)
