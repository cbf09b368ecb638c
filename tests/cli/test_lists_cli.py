"""The lists commands as a person runs them: barred devices shown by kind, the enterprise
whitelist with its owners and expiries."""

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


def test_the_enterprise_whitelist_from_the_command_line(tmp_path: Path) -> None:
    init = subprocess.run([sys.executable, "-m", "telshield", "init", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert init.returncode == 0, init.stderr
    r = run("add", "range", "8613800000000", "white", "--end", "8613800000019",
            "--reason", "registered telemarketing numbers", "--owner", "Sunrise Telemarketing",
            "--expires", "2027-06-30", "--actor", "analyst", data=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("add", "number", "8613812345678", "white", "--reason", "VIP", data=tmp_path)
    assert r.returncode == 0, r.stderr
    listed = run("show", "--enterprise", data=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "Sunrise Telemarketing" in listed.stdout and "2027-06-30" in listed.stdout
    assert "8613812345678" not in listed.stdout
    refused = run("add", "number", "8613812345679", "white", "--reason", "card",
                  "--owner", "Acme", data=tmp_path)
    assert refused.returncode != 0 and "expiry" in refused.stdout + refused.stderr


def test_police_blocks_wide_white_entries_and_canonical_numbers(tmp_path: Path) -> None:
    init = subprocess.run([sys.executable, "-m", "telshield", "init", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert init.returncode == 0, init.stderr
    r = run("add", "number", "+8613812345678", "white", "--reason", "x", data=tmp_path)
    assert r.returncode == 2 and "write 8613812345678" in " ".join(r.stderr.split())
    r = run("add", "number", "8613812345678", "black", "--reason", "order 7", "--source",
            "police", "--police-ordered", data=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("remove", "1", "--reason", "mistake", data=tmp_path)
    assert r.returncode == 5 and "police" in r.stderr
    r = run("remove", "1", "--reason", "case closed", "--police-release", "PSB/9", data=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("add", "prefix", "86", "white", "--reason", "everyone", data=tmp_path)
    assert r.returncode == 5 and "white_min_digits" in " ".join(r.stderr.split())
    r = run("add", "prefix", "86", "white", "--reason", "a test network", "--wide",
            data=tmp_path)
    assert r.returncode == 0, r.stderr
