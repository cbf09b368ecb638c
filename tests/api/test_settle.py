"""The server's factory moves what start-up made out of the garbage collector's way
(``wiring.process.settle``): a full collection during a request then walks only what requests made,
not the 200,000-odd objects of modules, routes and services (the trace pages' p95)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from telshield.settings import Settings
from telshield.wiring.datadir import init_data_dir

ROOT = Path(__file__).resolve().parents[2]

# Run in a child process: freezing is for good, and the test process must not keep its garbage.
# Exiting at once also checks that the process ends cleanly while the registration check's
# ranking is still being built in the background (it aborted when that thread was a daemon).
PROBE = """
import gc, json, sys
from telshield.api.app import from_environment
before = gc.get_freeze_count()
app = from_environment()
open(sys.argv[1], "w").write(json.dumps({"before": before, "frozen": gc.get_freeze_count(),
                  "walked": len(gc.get_objects()), "routes": len(app.routes)}))
"""


def test_the_server_factory_freezes_what_start_up_made(tmp_path: Path) -> None:
    init_data_dir(Settings(data_dir=tmp_path))
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    # The figures go to a file: the process's own log lines (a background build's warning)
    # may interleave with anything it prints.
    result = tmp_path / "probe.json"
    subprocess.run([sys.executable, "-c", PROBE, str(result)], env=env, capture_output=True,
                   text=True, check=True, timeout=300)
    got = json.loads(result.read_text())
    assert got["routes"] > 10  # the app was built, its routers included
    assert got["before"] == 0
    assert got["frozen"] > 100_000  # modules, routes, services: out of the collector's way
    assert got["walked"] < got["frozen"] // 100  # what a full collection still walks
