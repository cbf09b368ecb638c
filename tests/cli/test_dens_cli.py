"""The den commands as a person runs them: find prints and stores the den; list, show and export
(JSON, CSV, text and HTML reports) show the same numbers; its numbers that are ours are disposed
of in one command; a bad profile or an unknown den exits with a message."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.services.denlake import write


def run(*args: str, data: Path, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(data), "COLUMNS": "250", **env_extra}
    return subprocess.run([sys.executable, "-m", "telshield", *args], capture_output=True,
                          text=True, env=env, check=False)


def test_find_list_show_export_dispose(tmp_path: Path) -> None:
    assert run("init", "--data-dir", str(tmp_path), data=tmp_path).returncode == 0
    lk = write(tmp_path / "lake")
    r = run("dens", "find", "--since", "2026-11-01", "--engine", "duckdb", data=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "1 den(s): 1 new, 0 updated" in r.stdout and "DEN-000001" in r.stdout
    bad = run("dens", "find", "--engine", "polars", data=tmp_path)
    assert bad.returncode != 0 and "use one of duckdb, spark" in bad.stdout + bad.stderr
    assert "Jiangning" in run("dens", "list", data=tmp_path).stdout
    case = json.loads(run("dens", "export", "1", data=tmp_path).stdout)
    assert {m["msisdn"] for m in case["members"]} == set(lk.den)
    assert case["county"] == "Jiangning" and case["imeis"] == sorted(lk.den_imeis)
    rows = list(csv.DictReader(io.StringIO(
        run("dens", "export", "1", "--format", "csv", data=tmp_path).stdout)))
    assert {r["msisdn"] for r in rows} == set(lk.den)
    text = run("dens", "export", "DEN-000001", "--format", "text", data=tmp_path).stdout
    assert "GOIP den report DEN-000001" in text and all(n in text for n in lk.den)
    page = run("dens", "export", "1", "--format", "html", data=tmp_path).stdout
    assert page.startswith("<!doctype html>") and all(n in page for n in lk.den)
    show = run("dens", "show", "1", data=tmp_path).stdout
    assert all(i in show for i in lk.den_imeis)
    bad = run("dens", "export", "1", "--format", "pdf", data=tmp_path)
    assert bad.returncode != 0 and "json, csv, text, html" in bad.stderr + bad.stdout
    done = run("dens", "dispose", "1", "suspend", "--reason", "GOIP den", data=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{len(lk.ours)} moved" in done.stdout and "other operators" in done.stdout
    assert run("dens", "show", "7", data=tmp_path).returncode == 3


def test_an_analysts_profile_is_used_and_a_bad_one_refused(tmp_path: Path) -> None:
    assert run("init", "--data-dir", str(tmp_path), data=tmp_path).returncode == 0
    write(tmp_path / "lake")
    strict = tmp_path / "strict.toml"
    strict.write_text("[den]\nmin_sims = 40\n", encoding="utf-8")
    r = run("dens", "find", "--since", "2026-11-01", data=tmp_path,
            TELSHIELD_DENS__PROFILE=str(strict))
    assert r.returncode == 0, r.stderr
    assert "0 den(s)" in r.stdout  # 16 SIMs are fewer than the profile's 40
    typo = tmp_path / "typo.toml"
    typo.write_text("[den]\nmin_sim = 4\n", encoding="utf-8")
    r = run("dens", "find", data=tmp_path, TELSHIELD_DENS__PROFILE=str(typo))
    assert r.returncode != 0 and "unknown key 'min_sim'" in r.stdout + r.stderr
