"""The model: metrics, SHAP reasons, graph features, bring-your-own tables through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from telshield.cli.model import model_app
from telshield.detect import model as m
from telshield.detect.graph import graph_features
from telshield.domain.errors import InvalidInput


def _table(n: int = 1200, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features where fraud is weakly visible alone but clusters on the call graph."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.15).astype(int)
    frame = pd.DataFrame({"msisdn": [f"86138{i:08d}" for i in range(n)],
                          "spread": rng.normal(y * 0.8, 1.0), "noise": rng.normal(0, 1, n),
                          "label": y})
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    pairs = [(rng.choice(pos), rng.choice(pos)) for _ in range(3 * len(pos))]
    pairs += [(rng.choice(neg), rng.choice(neg)) for _ in range(3 * len(neg))]
    edges = pd.DataFrame({"a": [frame.msisdn[i] for i, _ in pairs],
                          "b": [frame.msisdn[j] for _, j in pairs]})
    return frame, edges


def test_metrics_by_hand() -> None:
    got = m.metrics(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.6, 0.1]))
    assert got["precision_positive"] == 0.5 and got["recall_positive"] == 0.5
    assert got["f1_macro"] == 0.5 and got["roc_auc"] == 0.75


def test_graph_features_see_neighbours() -> None:
    nodes = np.array(["a", "b", "c", "d"])
    edges = pd.DataFrame({"s": ["a", "a", "x"], "t": ["b", "c", "a"]})
    g = graph_features(nodes, edges, np.array([0.0, 1.0, 0.5, 0.2]), np.array([0, 1, 0, 0.0]))
    assert g.nb_count.tolist() == [2, 1, 1, 0]
    assert g.nb_score_mean[0] == pytest.approx(0.75) and g.nb_score_max[0] == 1.0
    assert np.isnan(g.nb_score_mean[3]) and np.isnan(g.label_propagation[3])
    assert g.label_propagation[0] > g.label_propagation[2]  # a neighbours the positive b


def test_graph_features_lift_cross_validated_scores() -> None:
    frame, edges = _table()
    y = frame.label.to_numpy()
    plain, _ = m.cross_validate(frame, y, ["spread", "noise"], k=3)
    graph, _ = m.cross_validate(frame, y, ["spread", "noise"], edges=edges, k=3)
    assert graph["roc_auc"] > plain["roc_auc"] + 0.05
    assert graph["f1_positive"] > plain["f1_positive"]


def test_reasons_point_at_the_signal() -> None:
    frame, _ = _table()
    booster = m.fit(frame, frame.label.to_numpy(), ["spread", "noise"])
    top = m.reasons(booster, frame.nlargest(20, "spread"), top=1)
    assert sum(r[0].feature == "spread" for r in top if r) >= 15


def test_one_class_is_refused() -> None:
    frame, _ = _table()
    with pytest.raises(InvalidInput, match="both positive and negative"):
        m.fit(frame, np.zeros(len(frame)), ["spread"])


def test_cli_train_and_score_own_table(tmp_path: Path) -> None:
    frame, edges = _table(400)
    frame.to_csv(tmp_path / "features.csv", index=False)
    edges.to_parquet(tmp_path / "edges.parquet")
    run = CliRunner().invoke
    args = ["--data-dir", str(tmp_path / "data")]
    out = run(model_app, ["train", "--features", str(tmp_path / "features.csv"), "--edges",
                          str(tmp_path / "edges.parquet"), "--folds", "3", *args])
    assert out.exit_code == 0, out.output
    assert "ROC-AUC" in out.output and "macro" in out.output and "saved table model" in out.output
    assert "nested cross-validation" in out.output and "threshold it chose" in out.output
    (version,) = [p for p in (tmp_path / "data" / "models").iterdir() if p.is_dir()]
    meta = json.loads((version / "meta.json").read_text())
    assert 0 < meta["threshold"] <= 1 and meta["params"]
    assert meta["calibration"]["method"] in ("isotonic", "platt")
    out = run(model_app, ["score", "--features", str(tmp_path / "features.csv"), "--edges",
                          str(tmp_path / "edges.parquet"), "--out", str(tmp_path / "s.csv"),
                          *args])
    assert out.exit_code == 0, out.output
    scores = pd.read_csv(tmp_path / "s.csv", dtype={"msisdn": str})
    assert len(scores) == 400 and scores.score.between(0, 1).all()
    assert scores.fraud.tolist() == (scores.score >= meta["threshold"]).tolist()
    out = run(model_app, ["score", "--features", str(tmp_path / "features.csv"), *args])
    assert out.exit_code != 0  # a graph model needs its edges
