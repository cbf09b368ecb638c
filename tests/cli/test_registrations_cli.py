"""The registration commands as a person runs them: a check prints the decision, reasons and
masked numbers (or JSON); a suspended staff ID is refused; a raw ID number is refused with
exit code 2 and appears nowhere in the output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from tests.services.feeds import write_feed

H = "9f" * 32
RAW = "11010519491231002X"


def run(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(data), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "telshield", "registration", *args],
                          capture_output=True, text=True, env=env, check=False)


def test_check_numbers_and_staff(tmp_path: Path) -> None:
    init = subprocess.run([sys.executable, "-m", "telshield", "init", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert init.returncode == 0, init.stderr
    write_feed(tmp_path / "lake", "subscribers", [
        {"msisdn": "8613800000001", "imsi": "460001234567890", "id_hash": H,
         "holder_kind": "individual", "registered_at": datetime(2025, 1, 1),
         "channel_id": "CH-1", "staff_id": "ST-0", "status": "active"}])
    ask = ("check", "--id-hash", H, "--channel", "CH-1", "--staff", "ST-1", "--terminal", "T-1")
    r = run(*ask, "--number", "13800000010", data=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "allow" in r.stdout and "138****0001" in r.stdout
    r = run(*ask, "--number", "13800000011", "--json", data=tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["decision"] == "allow" and got["numbers_held"] == ["138****0001", "138****0010"]
    r = run("numbers", H, data=tmp_path)
    assert r.stdout.split() == ["138****0001", "138****0010", "138****0011"]
    r = run("staff", "suspend", "ST-1", "--reason", "bulk opening", "--actor", "ann",
            data=tmp_path)
    assert r.returncode == 0 and "ST-1" in r.stdout, r.stderr
    r = run(*ask, "--number", "13800000012", data=tmp_path)
    assert "refuse" in r.stdout and "staff_suspended" in r.stdout and "appeal" in r.stdout
    assert "ST-1" in run("staff", "list", data=tmp_path).stdout
    assert run("staff", "lift", "ST-1", "--reason", "cleared", data=tmp_path).returncode == 0
    assert "ST-1" not in run("staff", "list", data=tmp_path).stdout
    assert run("staff", "lift", "ST-1", "--reason", "again", data=tmp_path).returncode == 3
    r = run("check", "--id-hash", RAW, "--channel", "CH-1", "--staff", "ST-2", "--number",
            "13800000013", data=tmp_path)
    assert r.returncode == 2 and "raw ID" in r.stderr
    assert RAW not in r.stdout + r.stderr
