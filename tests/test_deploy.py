"""What ships in deploy/ works: the example settings load (no misspelt key), every systemd unit
names a telshield command that exists, carries the hardening options, and passes
``systemd-analyze verify``."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from telshield.settings import load_settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALLED = "/opt/telshield/venv/bin/telshield"
HARDENING = ("User=telshield", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
             "PrivateTmp=yes", "CapabilityBoundingSet=", "SystemCallFilter=@system-service",
             "EnvironmentFile=/etc/telshield/telshield.env", "StateDirectory=telshield\n")


def _command(unit: Path) -> list[str]:
    """The sub-command an ExecStart line runs, e.g. ['screen', 'sip']."""
    line = next(x for x in unit.read_text().splitlines() if x.startswith("ExecStart="))
    args = shlex.split(line.removeprefix("ExecStart="))
    assert args[0] == INSTALLED, f"{unit.name} runs {args[0]}"
    rest = args[1:]
    while rest and rest[0].startswith("--"):  # the root options: --log-level LEVEL, --log-json
        rest = rest[2:] if rest[0] == "--log-level" else rest[1:]
    command = []
    for a in rest:
        if a.startswith("-"):
            break
        command.append(a)
    return command


def test_example_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("TELSHIELD_"):
            monkeypatch.delenv(name)
    s = load_settings(DEPLOY / "telshield.toml.example")
    assert s.api.metrics_port and s.screening.sip_metrics_port
    env = (DEPLOY / "telshield.env.example").read_text().splitlines()
    names = [x.split("=", 1)[0] for x in env if x and not x.startswith("#")]
    assert names
    for name in names:  # each variable names a setting (a misspelt one would be refused)
        monkeypatch.setenv(name, "postgresql+psycopg://u@h/db" if "URL" in name else "x")
    load_settings()


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_unit_is_hardened_and_runs_a_real_command(unit: Path) -> None:
    text = unit.read_text()
    for option in HARDENING:
        assert option in text, f"{unit.name} lacks {option.strip()}"
    command = _command(unit)
    assert command, unit.name
    r = subprocess.run([sys.executable, "-m", "telshield", *command, "--help"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, (unit.name, r.stderr)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    telshield = shutil.which("telshield", path=str(Path(sys.executable).parent))
    assert telshield is not None
    for unit in [*UNITS, *(DEPLOY / "systemd").glob("*.timer")]:
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED, telshield))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        *sorted(str(p) for p in tmp_path.iterdir())],
                       capture_output=True, text=True, check=False, cwd=tmp_path)
    problems = [x for x in (r.stdout + r.stderr).splitlines() if str(tmp_path) in x or "rror" in x]
    assert r.returncode == 0 and not problems, r.stdout + r.stderr
