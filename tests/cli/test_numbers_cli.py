"""The numbers commands as a person runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(data), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "telshield", "numbers", *args], capture_output=True, text=True,
        env=env, check=False,
    )


def test_plan_then_classify(tmp_path: Path) -> None:
    plan = run("plan", data=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert "china_broadnet" in plan.stdout and "international" in plan.stdout
    assert list((tmp_path / "numbering").glob("plan-*.parquet"))

    r = run("classify", "+86 138-1234-5678", "025-84001234", "95588", "garbage", data=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if "│" in line}
    assert "8613812345678" in lines["+86 138-1234-5678"]
    assert "china_mobile" in lines["+86 138-1234-5678"]
    assert "138****5678" in lines["+86 138-1234-5678"]
    assert "Nanjing" in lines["025-84001234"] and "fixed" in lines["025-84001234"]
    assert "ICBC" in lines["95588"] and "service" in lines["95588"]
    assert "invalid" in lines["garbage"]
