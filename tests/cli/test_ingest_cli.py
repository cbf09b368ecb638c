"""The ingest and lake commands as a person runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SAMPLE_CALLS = Path(__file__).resolve().parents[1] / "data" / "samples" / "calls.csv"


def run(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(data), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "telshield", *args], capture_output=True, text=True, env=env,
        check=False,
    )


def test_ingest_reports_counts_and_exits_zero_with_bad_rows(tmp_path: Path) -> None:
    src = tmp_path / "calls.csv"
    lines = SAMPLE_CALLS.read_text().splitlines()
    lines[5] = lines[5].replace(",radio,", ",pigeon,").replace(",interconnect,", ",pigeon,")
    lines[5] = lines[5].replace(",international,", ",pigeon,")
    src.write_text("\n".join(lines) + "\n")
    r = run("ingest", "calls", str(src), "--init", data=tmp_path / "d")
    assert r.returncode == 0, r.stderr
    assert "bad_enum 1" in r.stdout
    assert "299" in r.stdout
    stats = run("lake", "stats", data=tmp_path / "d")
    assert stats.returncode == 0
    assert "bad_enum 1" in stats.stdout
    shown = run("lake", "quarantine", "--feed", "calls", "--json", data=tmp_path / "d")
    row = json.loads(shown.stdout.splitlines()[0])
    assert (row["source_file"], row["line"], row["reason"]) == (str(src), 6, "bad_enum")
    assert "ingress: bad_enum" in row["problems"]


def test_unreadable_file_exits_non_zero_naming_it(tmp_path: Path) -> None:
    src = tmp_path / "calls.csv"
    src.write_text("call_id,when\nC1,2026-11-01\n")
    r = run("ingest", "calls", str(src), "--init", data=tmp_path / "d")
    assert r.returncode == 2
    assert "calls.csv" in r.stderr
    assert "header lacks column(s)" in r.stderr


def test_help_lists_the_commands(tmp_path: Path) -> None:
    r = run("--help", data=tmp_path)
    assert r.returncode == 0
    for command in ("ingest", "lake", "demo"):
        assert command in r.stdout
