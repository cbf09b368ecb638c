"""The documented flow: `model train`, `model list`, `model choose`, then `detect`.

A trained model acts only once chosen; a model trained on a feature table never reaches a plain
`detect`; progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.toy import Toy, make_toy
from typer.testing import CliRunner

from telshield.cli import app


@pytest.fixture(scope="module")
def toy() -> Toy:
    return make_toy(normal=120, couriers=8, fraud=8, days=4)


def _invoke(*args: str) -> tuple[str, str]:
    from telshield.cli import _register

    _register()
    out = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output + repr(out.exception)
    return out.stdout, out.stderr


def _state(data: Path) -> list[dict[str, Any]]:
    stdout, _ = _invoke("model", "list", "--json", "--data-dir", str(data))
    return [json.loads(line) for line in stdout.splitlines()]


def test_train_list_choose_detect(toy: Toy, tmp_path: Path) -> None:
    lake, data = tmp_path / "lake", tmp_path / "data"
    toy.write(lake)
    stdout, _stderr = _invoke("model", "train", "--from", "2026-11-01", "--to", "2026-11-04",
                             "--feeds", str(lake), "--data-dir", str(data))
    assert "not used by detection until chosen" in stdout
    assert "features at" not in stdout  # progress never mixes with the results
    [row] = _state(data)
    version = row["version"]
    assert row["kind"] == "lake" and not row["chosen"]
    # Trained, not chosen: a plain detect scores with the rules only.
    stdout, _ = _invoke("detect", "--until", "2026-11-04", "--feeds", str(lake),
                        "--data-dir", str(data))
    assert "open alerts" in stdout and "model none (rules only" in stdout
    rng = np.random.default_rng(1)
    table = tmp_path / "own.csv"
    pd.DataFrame({"msisdn": [f"86139{i:08d}" for i in range(60)], "calls": rng.poisson(4, 60),
                  "label": [0, 1] * 30}).to_csv(table, index=False)
    _invoke("model", "train", "--features", str(table), "--folds", "2", "--data-dir", str(data))
    # The newest model is now a table model: a plain detect still runs (rules only).
    _invoke("detect", "--until", "2026-11-04 06:00", "--feeds", str(lake), "--data-dir", str(data))
    _invoke("model", "choose", version, "--reason", "judged on 5 worlds", "--actor", "ana",
            "--data-dir", str(data))
    rows = _state(data)
    assert [r["version"] for r in rows if r["chosen"]] == [version]
    assert {r["kind"] for r in rows} == {"lake", "table"}
    stdout, _ = _invoke("detect", "--until", "2026-11-04 12:00", "--feeds", str(lake),
                        "--data-dir", str(data))
    assert f"model {version}" in stdout
    _invoke("model", "choose", "--none", "--data-dir", str(data))
    assert not [r for r in _state(data) if r["chosen"]]
    # Both switches are in the audit chain: who, which version, what it replaced, why.
    from telshield.settings import Settings
    from telshield.wiring import disposal

    events = disposal(Settings(data_dir=data)).audit.events(limit=1000)
    choices = [(e.event.actor, e.event.action, e.event.detail.get("replaces"))
               for e in events if e.event.action.startswith("model.")]
    assert choices == [("ana", "model.choose", None), (choices[1][0], "model.unchoose", version)]
    assert [e.event.detail["reason"] for e in events if e.event.action == "model.choose"] == \
        ["judged on 5 worlds"]


def test_choosing_a_table_model_is_refused(tmp_path: Path) -> None:
    from telshield.cli import _register

    _register()
    rng = np.random.default_rng(1)
    table = tmp_path / "own.csv"
    pd.DataFrame({"msisdn": [f"86139{i:08d}" for i in range(60)], "calls": rng.poisson(4, 60),
                  "label": [0, 1] * 30}).to_csv(table, index=False)
    data = tmp_path / "data"
    _invoke("model", "train", "--features", str(table), "--folds", "2", "--data-dir", str(data))
    [row] = _state(data)
    # The choice is audited in the store: a folder without one is refused.
    out = CliRunner().invoke(app, ["model", "choose", row["version"], "--data-dir", str(data)])
    assert out.exit_code != 0 and "holds no store" in str(out.exception)
    _invoke("init", "--data-dir", str(data))
    out = CliRunner().invoke(app, ["model", "choose", row["version"], "--data-dir", str(data)])
    assert out.exit_code != 0 and "feature table" in str(out.exception)
