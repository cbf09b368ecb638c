"""The hotspot commands as a person runs them: find prints and stores the den's county; list and
show give the same hotspot and its numbers; a bad id is a clear error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.services.hotspotlake import write

from telshield.reference.numbering import load_plan_table, plan_path


def run(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(data), "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "telshield", *args], capture_output=True,
                          text=True, env=env, check=False)


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("plan")
    load_plan_table(d)
    return plan_path(d)


def test_find_list_show(tmp_path: Path, plan_file: Path) -> None:
    assert run("init", "--data-dir", str(tmp_path), data=tmp_path).returncode == 0
    lk = write(tmp_path / "lake")
    plan_path(tmp_path).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(plan_file, plan_path(tmp_path))  # built once for the module
    r = run("hotspots", "find", "--until", "2026-11-09", "--engine", "duckdb", data=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "1 hotspot(s): 1 new" in r.stdout and "HOT-000001" in r.stdout
    assert "Nanjing/Liuhe" in r.stdout and "Kunshan" not in r.stdout
    listed = run("hotspots", "list", data=tmp_path).stdout
    assert "HOT-000001" in listed and "Nanjing/Liuhe" in listed
    show = run("hotspots", "show", "HOT-000001", data=tmp_path)
    assert show.returncode == 0, show.stderr
    assert all(n in show.stdout for n in lk.den) and "32.3300, 118.8300" in show.stdout
    bad = run("hotspots", "show", "HOT-x", data=tmp_path)
    assert bad.returncode != 0 and "not a hotspot id" in bad.stderr + bad.stdout
    assert run("hotspots", "show", "9", data=tmp_path).returncode == 3
    wrong = run("hotspots", "find", "--until", "soon", data=tmp_path)
    assert wrong.returncode != 0 and "--until" in wrong.stderr + wrong.stdout
    bad = run("hotspots", "find", "--engine", "polars", data=tmp_path)
    assert bad.returncode != 0 and "use one of duckdb, spark" in bad.stdout + bad.stderr
