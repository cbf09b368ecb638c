"""The screening faces move what start-up made out of the cycle collector's way
(``wiring.process.settle``): a full collection while calls are screened walks only what the
calls made since, not the modules, the engine and the snapshot (a stall of every call
set-up waiting on it: about 10 ms for 55,000 objects)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# In a child process: freezing is for good, and the test process must not keep its garbage.
PROBE = """
import gc, json, sys
from telshield.wiring.screening import http_app_from_environment
before = gc.get_freeze_count()
app = http_app_from_environment()
open(sys.argv[1], "w").write(json.dumps({"before": before, "frozen": gc.get_freeze_count(),
                  "walked": len(gc.get_objects()), "face": type(app).__name__}))
"""


def test_the_http_faces_factory_freezes_what_start_up_made(tmp_path: Path) -> None:
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(tmp_path),
           "TELSHIELD_SCREENING__HTTP_TOKEN": "a-token-for-the-switch",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    # The figures go to a file: the process's own log lines (a background build's warning)
    # may interleave with anything it prints.
    result = tmp_path / "probe.json"
    subprocess.run([sys.executable, "-c", PROBE, str(result)], env=env, capture_output=True,
                   text=True, check=True, timeout=300)
    got = json.loads(result.read_text())
    assert got["face"] == "ScreeningApp"
    assert got["before"] == 0
    assert got["frozen"] > 10_000  # modules and the engine: out of the collector's way
    assert got["walked"] < got["frozen"] // 100  # what a full collection still walks
