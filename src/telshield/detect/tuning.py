"""Choosing a model honestly: hyperparameters and threshold by nested cross-validation, scores
calibrated to probabilities.

The outer folds estimate how the whole procedure does on numbers it never saw; inside each outer
training part, inner folds choose the hyperparameters (from a small grid) and fit the calibration
and the threshold (the one that maximises macro-F1 on the inner out-of-fold scores). The figure
reported is macro-F1 of the outer test rows *at the threshold each outer part chose*, never at
0.5. The model that is saved goes through the same selection on the whole table.

Calibration is isotonic regression of the labels on out-of-fold scores (scikit-learn's
``IsotonicRegression``), stored as its breakpoints so that the artefact needs no pickle. Graph
features (``model.with_graph``) are built in each outer part from the labels of its training rows
only, so an outer test label never reaches a feature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from telshield.detect import model as m

# A small grid around the shipped parameters: shallower and deeper trees, fewer or more rounds.
GRID: tuple[dict[str, Any], ...] = (
    {"num_leaves": 15, "min_child_samples": 20, "rounds": 100},
    {"num_leaves": 31, "min_child_samples": 10, "rounds": 150},
    {"num_leaves": 63, "min_child_samples": 5, "rounds": 250},
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Calibration:
    """A monotone map from raw scores to probabilities: linear between breakpoints, flat
    outside them."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        if not self.x:
            return np.asarray(scores, dtype="float64")
        return np.interp(np.asarray(scores, dtype="float64"), self.x, self.y)

    def to_json(self) -> dict[str, list[float]]:
        return {"x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_json(cls, data: Mapping[str, Sequence[float]] | None) -> Calibration:
        if not data:
            return cls((), ())
        return cls(tuple(map(float, data["x"])), tuple(map(float, data["y"])))


def calibrate(y: np.ndarray, scores: np.ndarray) -> Calibration:
    """Isotonic calibration of ``scores`` against 0/1 ``y``."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(np.asarray(scores, dtype="float64"), np.asarray(y, dtype="float64"))
    return Calibration(tuple(map(float, iso.X_thresholds_)), tuple(map(float, iso.y_thresholds_)))


def best_threshold(y: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold (predict fraud at or above it) that maximises macro-F1; ties go to
    the higher threshold (fewer numbers alerted)."""
    from sklearn.metrics import f1_score

    y = np.asarray(y, dtype=int)
    candidates = np.unique(np.asarray(scores, dtype="float64"))
    if candidates.size > 256:
        candidates = np.unique(np.quantile(scores, np.linspace(0, 1, 257)))
    best, best_f1 = 0.5, -1.0
    for t in candidates[::-1]:
        f1 = float(f1_score(y, (scores >= t).astype(int), average="macro", zero_division=0))
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(t), f1
    return best


@dataclass(frozen=True)
class Choice:
    """What a selection chose on one training part."""

    params: dict[str, Any]
    calibration: Calibration
    threshold: float
    inner_f1: float


def _oof(frame: pd.DataFrame, y: np.ndarray, features: Sequence[str], params: Mapping[str, Any],
         k: int, seed: int) -> np.ndarray:
    out = np.zeros(len(y))
    for train, test in m.folds(y, k, seed):
        booster = m.fit(frame.iloc[train], y[train], features, params=params)
        out[test] = m.predict(booster, frame.iloc[test])
    return out


def choose(frame: pd.DataFrame, y: np.ndarray, features: Sequence[str], *,
           grid: Sequence[Mapping[str, Any]] = GRID, k: int = 3, seed: int = 7) -> Choice:
    """Pick the grid point with the best out-of-fold macro-F1 (each at its own best threshold),
    with the calibration and threshold fitted on its calibrated out-of-fold scores."""
    from sklearn.metrics import f1_score

    best: Choice | None = None
    for params in grid:
        raw = _oof(frame, y, features, params, k, seed)
        cal = calibrate(y, raw)
        scores = cal(raw)
        t = best_threshold(y, scores)
        f1 = float(f1_score(y, (scores >= t).astype(int), average="macro", zero_division=0))
        if best is None or f1 > best.inner_f1 + 1e-12:
            best = Choice(dict(params), cal, t, f1)
    assert best is not None
    return best


@dataclass
class NestedResult:
    """Outer-fold figures of the whole procedure, and what each outer part chose."""

    metrics: dict[str, float]  # pooled over the outer test rows, at the chosen thresholds
    scores: np.ndarray  # calibrated outer out-of-fold scores
    raw: np.ndarray  # the same before calibration
    choices: list[Choice] = field(default_factory=list)
    fold_f1: list[float] = field(default_factory=list)


def nested_cv(
    frame: pd.DataFrame, y: np.ndarray, features: Sequence[str], *,
    edges: pd.DataFrame | None = None, outer: int = 5, inner: int = 3, seed: int = 7,
    grid: Sequence[Mapping[str, Any]] = GRID, progress: Progress | None = None,
) -> NestedResult:
    """Nested cross-validation of choose-then-fit (graph features without label leakage)."""
    from sklearn.metrics import f1_score

    y = np.asarray(y, dtype=int)
    frame = frame.reset_index(drop=True)
    scores, raw = np.zeros(len(y)), np.zeros(len(y))
    predicted = np.zeros(len(y), dtype=int)
    result = NestedResult({}, scores, raw)
    splits = m.folds(y, outer, seed)
    for i, (train, test) in enumerate(splits, 1):
        names: Sequence[str] = features
        part = frame
        if edges is not None:  # graph features from the training part's labels only
            stage1 = np.zeros(len(y))
            stage1[train] = m.oof_scores(frame.iloc[train], y[train], features, k=inner,
                                         seed=seed)
            stage1[test] = m.predict(m.fit(frame.iloc[train], y[train], features),
                                     frame.iloc[test])
            known = np.zeros(len(y), dtype=bool)
            known[train] = True
            part = m.with_graph(frame, y, known, features, edges, stage1)
            names = [*features, *m.GRAPH_FEATURES]
        c = choose(part.iloc[train], y[train], names, grid=grid, k=inner, seed=seed)
        booster = m.fit(part.iloc[train], y[train], names, params=c.params)
        raw[test] = m.predict(booster, part.iloc[test])
        scores[test] = c.calibration(raw[test])
        predicted[test] = scores[test] >= c.threshold
        result.choices.append(c)
        result.fold_f1.append(float(f1_score(y[test], predicted[test], average="macro",
                                             zero_division=0)))
        if progress is not None:
            progress(f"outer fold {i}/{len(splits)}: macro-F1 {result.fold_f1[-1]:.3f} at "
                     f"threshold {c.threshold:.3f}, {_describe(c.params)}")
    metrics = m.metrics_of(y, predicted, scores)
    metrics["threshold"] = float(np.median([c.threshold for c in result.choices]))
    metrics["f1_macro_fold_min"] = min(result.fold_f1)
    metrics["brier"] = float(np.mean((scores - y) ** 2))
    result.metrics = metrics
    return result


def deployed(result: NestedResult, y: np.ndarray,
             grid: Sequence[Mapping[str, Any]] = GRID) -> Choice:
    """What the model trained on the whole table uses: the hyperparameters the outer parts chose
    most often (ties: the earlier grid point), a calibration fitted on the outer out-of-fold raw
    scores (as scikit-learn's ``CalibratedClassifierCV(ensemble=False)`` does) and the threshold
    that maximises macro-F1 on them once calibrated."""
    from sklearn.metrics import f1_score

    counts = [sum(c.params == dict(g) for c in result.choices) for g in grid]
    params = dict(grid[int(np.argmax(counts))])
    cal = calibrate(y, result.raw)
    scores = cal(result.raw)
    t = best_threshold(y, scores)
    f1 = float(f1_score(y, (scores >= t).astype(int), average="macro", zero_division=0))
    return Choice(params, cal, t, f1)


def _describe(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in params.items())
