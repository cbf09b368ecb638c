"""The gang commands as a person runs them: find prints and stores the gangs; list, show and
export (JSON, CSV, GraphML read back by igraph) show the same cards; a gang's cards are disposed
of in one command; an unknown gang exits 3."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import igraph as ig
from tests.services.ganglake import write


def run(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(data), "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "telshield", *args], capture_output=True,
                          text=True, env=env, check=False)


def test_find_list_show_export_dispose(tmp_path: Path) -> None:
    assert run("init", "--data-dir", str(tmp_path), data=tmp_path).returncode == 0
    lk = write(tmp_path / "lake")
    r = run("gangs", "find", "--since", "2026-09-01", "--engine", "duckdb", data=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "2 gang(s): 2 new, 0 updated" in r.stdout and "GANG-000001" in r.stdout
    assert "GANG-000002" in run("gangs", "list", data=tmp_path).stdout
    out = run("gangs", "export", "1", "--format", "json", data=tmp_path)
    assert out.returncode == 0, out.stderr
    case = json.loads(out.stdout)
    gid = 1 if set(m["msisdn"] for m in case["members"]) == set(lk.gang_a) else 2
    case = json.loads(run("gangs", "export", str(gid), data=tmp_path).stdout)
    assert {m["msisdn"] for m in case["members"]} == set(lk.gang_a)
    assert case["staff_ids"] == ["ST-A-01"] and case["signals"]["openers"] == 4
    show = run("gangs", "show", f"GANG-{gid:06d}", data=tmp_path).stdout
    assert all(n in show for n in lk.gang_a) and "ST-A-01" in show
    rows = list(csv.DictReader(io.StringIO(
        run("gangs", "export", str(gid), "--format", "csv", data=tmp_path).stdout)))
    assert sorted(r["msisdn"] for r in rows) == sorted(lk.gang_a)
    assert {r["gang"] for r in rows} == {f"GANG-{gid:06d}"}
    path = tmp_path / "gang.graphml"
    r = run("gangs", "export", str(gid), "--format", "graphml", "--out", str(path), data=tmp_path)
    assert r.returncode == 0, r.stderr
    g = ig.Graph.Read_GraphML(str(path))
    assert sorted(g.vs["name"]) == sorted(lk.gang_a)
    assert g.ecount() == len(case["links"]) and "id" in "|".join(g.es["kinds"])
    r = run("gangs", "dispose", str(gid), "restrict", "--reason", "card-trafficking gang",
            data=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "12 moved (12 new cases)" in r.stdout
    cases = run("cases", "list", data=tmp_path).stdout
    assert all(n in cases for n in lk.gang_a) and not any(n in cases for n in lk.gang_b)
    missing = run("gangs", "show", "99", data=tmp_path)
    assert missing.returncode == 3 and "gangs list" in missing.stderr
    bad = run("gangs", "export", str(gid), "--format", "xml", data=tmp_path)
    assert bad.returncode == 2 and "graphml" in bad.stderr
