"""A mistyped --data-dir is refused, naming the folder and how to create one; ``telshield
init`` (or ``--init``) creates a data directory, and running it again loses nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TELSHIELD_")}
    full.update({"COLUMNS": "200", **(env or {})})
    return subprocess.run([sys.executable, "-m", "telshield", *args], capture_output=True,
                          text=True, env=full, check=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_a_folder_without_a_store_is_refused_and_left_alone(tmp_path: Path) -> None:
    typo = tmp_path / "dtaa"
    for args in (("cases", "list"), ("lists", "show"), ("users", "list"), ("audit", "verify"),
                 ("lake", "stats"), ("serve",)):
        r = run(*args, "--data-dir", str(typo))
        assert r.returncode == 3, (args, r.stdout, r.stderr)
        err = _one_line(r.stderr)
        assert f"data directory {typo} does not exist" in err, err
        assert f"telshield init --data-dir {typo}" in err
    assert not typo.exists()  # nothing was created on the way

    typo.mkdir()
    r = run("cases", "list", "--data-dir", str(typo))
    assert r.returncode == 3 and "holds no store (telshield.db)" in _one_line(r.stderr)
    assert list(typo.iterdir()) == []


def test_commands_that_may_create_say_init(tmp_path: Path) -> None:
    data = tmp_path / "d"
    r = run("users", "add", "root", "--role", "admin", "--data-dir", str(data))
    assert r.returncode == 3 and "pass --init or run" in _one_line(r.stderr)
    r = run("users", "add", "root", "--role", "admin", "--init", "--data-dir", str(data))
    assert r.returncode == 0, r.stderr
    r = run("users", "list", "--data-dir", str(data))
    assert r.returncode == 0 and "root" in r.stdout


def test_init_creates_then_keeps(tmp_path: Path) -> None:
    data = tmp_path / "new"
    r = run("init", "--data-dir", str(data))
    assert r.returncode == 0, r.stderr
    assert "store created" in _one_line(r.stdout) and "schema revision" in r.stdout
    assert (data / "telshield.db").is_file() and (data / "lake").is_dir()
    assert run("users", "add", "ann", "--role", "analyst", "--data-dir", str(data)).returncode == 0
    r = run("init", "--data-dir", str(data))
    assert r.returncode == 0 and "up to date" in r.stdout
    assert "ann" in run("users", "list", "--data-dir", str(data)).stdout  # nothing lost


@pytest.mark.parametrize("env_from", ["environment", "option"])
def test_the_environment_names_the_folder_too(tmp_path: Path, env_from: str) -> None:
    typo = tmp_path / "nope"
    if env_from == "environment":
        r = run("cases", "list", env={"TELSHIELD_DATA_DIR": str(typo)})
    else:
        r = run("cases", "list", "--data-dir", str(typo))
    assert r.returncode == 3 and str(typo) in _one_line(r.stderr)


def test_a_store_elsewhere_must_be_migrated_first(db: Any, tmp_path: Path) -> None:
    url = db.url
    if db.schema:  # each PostgreSQL test has its own schema
        url += f"?options=-csearch_path%3D{db.schema}"
    env = {"TELSHIELD_STORE__URL": url, "TELSHIELD_DATA_DIR": str(tmp_path)}
    r = run("cases", "list", env=env)
    assert r.returncode == 3 and "holds no telshield schema" in _one_line(r.stderr), r.stderr
    assert "telshield init" in r.stderr
    r = run("init", env=env)
    assert r.returncode == 0, r.stderr
    assert run("cases", "list", env=env).returncode == 0
