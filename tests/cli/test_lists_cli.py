"""The lists commands as a person runs them: barred devices shown by kind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(data), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "telshield", "lists", *args], capture_output=True, text=True,
        env=env, check=False,
    )


def test_show_by_kind(tmp_path: Path) -> None:
    init = subprocess.run([sys.executable, "-m", "telshield", "init", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert init.returncode == 0, init.stderr
    for args in (("imei", "861234560000011", "black", "--reason", "device of a barred number",
                  "--source", "disposal"),
                 ("number", "8613812345678", "black", "--reason", "fraud calls")):
        r = run("add", *args, "--actor", "analyst", data=tmp_path)
        assert r.returncode == 0, r.stderr
    devices = run("show", "--kind", "imei", data=tmp_path)
    assert devices.returncode == 0, devices.stderr
    assert "861234560000011" in devices.stdout and "8613812345678" not in devices.stdout
    everything = run("show", data=tmp_path)
    assert "861234560000011" in everything.stdout and "8613812345678" in everything.stdout
