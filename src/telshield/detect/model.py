"""The fraud model: LightGBM on per-number features, SHAP reason codes, honest metrics.

Pure functions over in-memory frames (no I/O). LightGBM is imported lazily: it takes seconds.
Reason codes are TreeSHAP contributions, computed by LightGBM itself (``pred_contrib``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from telshield.detect.graph import graph_features
from telshield.domain.errors import InvalidInput

if TYPE_CHECKING:
    import lightgbm

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 10,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "verbose": -1,
    "num_threads": 0,
    "seed": 7,
    "deterministic": True,
}
ROUNDS = 150


@dataclass(frozen=True)
class Contribution:
    """One feature's push on one number's score (log-odds, from TreeSHAP)."""

    feature: str
    value: float
    contribution: float


def _matrix(frame: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise InvalidInput(f"feature table lacks columns the model needs: {', '.join(missing)}")
    return frame[list(features)].apply(pd.to_numeric, errors="coerce").to_numpy("float64")


def fit(frame: pd.DataFrame, labels: np.ndarray, features: Sequence[str], *,
        params: Mapping[str, Any] | None = None) -> lightgbm.Booster:
    """Train a booster on ``features`` of ``frame`` against 0/1 ``labels``; ``params``
    override ``PARAMS`` (``rounds``: boosting rounds, default ``ROUNDS``)."""
    import lightgbm

    y = np.asarray(labels, dtype="float64")
    if len(np.unique(y)) < 2:
        raise InvalidInput("training needs both positive and negative labels; got one class only")
    data = lightgbm.Dataset(_matrix(frame, features), label=y, feature_name=list(features),
                            free_raw_data=True)
    # No class re-weighting: scores stay calibrated probabilities, so a model trained on
    # partial labels (clues cover only some fraud) does not flood the watch tier.
    # Threads cost more than they give on small tables.
    chosen = dict(params or {})
    rounds = int(chosen.pop("rounds", ROUNDS))
    merged = {**PARAMS, "num_threads": 1 if len(y) < 50_000 else 0, **chosen}
    return lightgbm.train(merged, data, num_boost_round=rounds)


def predict(booster: lightgbm.Booster, frame: pd.DataFrame) -> np.ndarray:
    """Probability of fraud for each row."""
    out = booster.predict(_matrix(frame, booster.feature_name()))
    return np.asarray(out, dtype="float64")


def reasons(
    booster: lightgbm.Booster, frame: pd.DataFrame, *, top: int = 3
) -> list[list[Contribution]]:
    """Per row, the ``top`` features pushing its score up the most (positive SHAP only)."""
    names = booster.feature_name()
    x = _matrix(frame, names)
    contrib = np.asarray(booster.predict(x, pred_contrib=True))[:, :-1]  # last: bias
    out: list[list[Contribution]] = []
    for i in range(len(x)):
        order = np.argsort(-contrib[i])[:top]
        out.append([Contribution(names[j], float(x[i, j]), float(contrib[i, j]))
                    for j in order if contrib[i, j] > 0])
    return out


def metrics(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Precision, recall, F1 per class and macro, and ROC-AUC of scores against labels."""
    out = metrics_of(labels, (np.asarray(scores) >= threshold).astype(int), scores)
    out["threshold"] = threshold
    return out


def metrics_of(labels: np.ndarray, pred: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 per class and macro of 0/1 predictions, and ROC-AUC and average
    precision of scores (NaN with one class)."""
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    y = np.asarray(labels, dtype=int)
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=[0, 1], zero_division=0)
    out: dict[str, float] = {}
    for k, cls in enumerate(("negative", "positive")):
        out |= {f"precision_{cls}": float(p[k]), f"recall_{cls}": float(r[k]),
                f"f1_{cls}": float(f[k]), f"support_{cls}": float(s[k])}
    out |= {"precision_macro": float(p.mean()), "recall_macro": float(r.mean()),
            "f1_macro": float(f.mean())}
    both = len(np.unique(y)) == 2
    out["roc_auc"] = float(roc_auc_score(y, scores)) if both else float("nan")
    out["average_precision"] = float(average_precision_score(y, scores)) if both else float("nan")
    return out


def folds(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    k = max(2, min(k, int(min(np.bincount(y.astype(int), minlength=2)))))
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(y)), y))


def oof_scores(frame: pd.DataFrame, y: np.ndarray, features: Sequence[str], *, k: int = 5,
               seed: int = 7) -> np.ndarray:
    """Out-of-fold scores: each row scored by a model that never saw its label."""
    out = np.zeros(len(y))
    for train, test in folds(y, k, seed):
        out[test] = predict(fit(frame.iloc[train], y[train], features), frame.iloc[test])
    return out


def with_graph(
    frame: pd.DataFrame, y: np.ndarray | None, known: np.ndarray, features: Sequence[str],
    edges: pd.DataFrame, stage1: np.ndarray,
) -> pd.DataFrame:
    """``frame`` plus graph features from stage-one scores and the labels in ``known`` rows."""
    seeds = stage1.copy()
    if y is not None:
        seeds[known] = y[known]
    g = graph_features(frame["msisdn"].astype(str).to_numpy(), edges, stage1, seeds)
    return pd.concat([frame.reset_index(drop=True), g], axis=1)


def cross_validate(
    frame: pd.DataFrame, y: np.ndarray, features: Sequence[str], *,
    edges: pd.DataFrame | None = None, k: int = 5, seed: int = 7,
) -> tuple[dict[str, float], np.ndarray]:
    """Cross-validated metrics and out-of-fold scores; graph features never see test labels."""
    y = np.asarray(y, dtype=int)
    if edges is None:
        scores = oof_scores(frame, y, features, k=k, seed=seed)
        return metrics(y, scores), scores
    frame = frame.reset_index(drop=True)
    scores = np.zeros(len(y))
    for train, test in folds(y, k, seed):
        stage1 = np.zeros(len(y))
        stage1[train] = oof_scores(frame.iloc[train], y[train], features, k=3, seed=seed)
        stage1[test] = predict(fit(frame.iloc[train], y[train], features), frame.iloc[test])
        known = np.zeros(len(y), dtype=bool)
        known[train] = True
        full = with_graph(frame, y, known, features, edges, stage1)
        names = [*features, *GRAPH_FEATURES]
        scores[test] = predict(fit(full.iloc[train], y[train], names), full.iloc[test])
    return metrics(y, scores), scores


GRAPH_FEATURES = ("nb_score_mean", "nb_score_max", "nb_count", "label_propagation")
