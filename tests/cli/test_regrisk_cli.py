"""``telshield registration risk`` and ``audit`` as a person runs them, on the hand-built lake
and a real store: the ranking as a table, CSV and JSON; the audit's sections printed and
written as files; a bad ``--by`` named with the choices."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.services import regrisk_lake as L

from telshield.services.store import FixedClock
from telshield.settings import Settings
from telshield.wiring import open_store


def run(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(data), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "telshield", "registration", *args],
                          capture_output=True, text=True, env=env, check=False)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    init = subprocess.run([sys.executable, "-m", "telshield", "init", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert init.returncode == 0, init.stderr
    store = open_store(Settings(data_dir=tmp_path))
    L.mark(store, FixedClock(L.NOW))
    store.dispose()
    L.build(tmp_path / "lake")
    return tmp_path


def test_risk_formats(data: Path) -> None:
    r = run("risk", "--by", "staff", "--all", "--format", "json", data=data)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["risk_staff"]["rows"]
    assert [(x["rank"], x["key"], x["registrations"], x["bad"]) for x in rows] == [
        (1, "ST-BAD", 24, 11), (2, "ST-OK", 31, 1)]
    assert rows[0]["share"] == 0.4583 and rows[0]["lower"] == 0.2789
    r = run("risk", "--by", "channel", "--all", "--min-count", "1", "--top", "2",
            "--format", "csv", data=data)
    got = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(x["key"], x["registrations"], x["bad"]) for x in got] == [("CH-A", "25", "12"),
                                                                       ("CH-B", "31", "1")]
    r = run("risk", "--by", "terminal", "--all", data=data)
    assert r.returncode == 0 and "T-A" in r.stdout and "terminal risk ranking" in r.stdout
    r = run("risk", "--by", "shop", data=data)
    assert r.returncode == 2 and "channel" in r.stderr + r.stdout


def test_audit_prints_and_writes_each_section(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    r = run("audit", "--since", "2026-01-01", "--format", "json", "--out", str(out), data=data)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)  # one document: the note about the files is on stderr
    assert "written to" in r.stderr
    assert got["sanctioned"]["rows"][0]["msisdn"] == "8613600000001"
    assert got["over_limit"]["rows"][0]["over_at"] == "2026-02-06 12:00:00"
    assert got["bulk_staff"]["rows"][0]["key"] == "ST-BAD"
    assert got["order_shared"]["rows"][0]["value"] == L.ADDRESS
    with (out / "bulk_terminal.csv").open(encoding="utf-8") as f:
        assert [(x["key"], x["registrations"]) for x in csv.DictReader(f)] == [("T-A", "25")]
    written = json.loads((out / "order_bursts.json").read_text(encoding="utf-8"))
    assert written["rows"][0]["orders"] == 5
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{s}.{x}" for s in got for x in ("csv", "json"))
    r = run("audit", "--since", "2026-01-01", data=data)
    assert "IDs holding more than 5 live numbers (1)" in r.stdout and L.OVER[:20] in r.stdout
    r = run("audit", "--since", "2026-01-01", "--format", "csv", data=data)
    assert "# sanctioned:" in r.stdout and "8613600000003" in r.stdout
