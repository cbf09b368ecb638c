"""Run a benchmark: ``python -m bench NAME [options]``; without NAME, list them."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main() -> None:
    """Dispatch to ``bench/bench_<NAME>.py``'s ``main(argv)``."""
    names = sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))
    if len(sys.argv) < 2 or sys.argv[1] not in names:
        print("usage: python -m bench NAME [options]\nbenchmarks: " + ", ".join(names))
        sys.exit(0 if len(sys.argv) < 2 else 2)
    module = importlib.import_module(f"bench.bench_{sys.argv[1]}")
    module.main(sys.argv[2:])


main()
