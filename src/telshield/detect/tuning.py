"""Choosing a model honestly: hyperparameters and threshold by nested cross-validation, scores
calibrated to probabilities.

The outer folds estimate how the whole procedure does on numbers it never saw; inside each outer
training part, inner folds choose the hyperparameters (from a small grid) and fit the calibration
and the threshold (the one that maximises macro-F1 on the inner out-of-fold scores). The figure
reported is macro-F1 of the outer test rows *at the threshold each outer part chose*, never at
0.5. The model that is saved goes through the same selection on the whole table.

Calibration maps out-of-fold scores to the frequencies of their labels: isotonic regression
(scikit-learn's ``IsotonicRegression``, stored as its breakpoints) when the labels hold at least
``ISOTONIC_MIN_POSITIVES`` of each class, Platt scaling (a logistic regression on the score's
logit, stored as its two parameters) when they hold fewer, none when they hold one class; the
artefact needs no pickle. Ranking figures (ROC-AUC, average precision) are of the raw scores: a
calibration is monotone and need not change them, but isotonic steps tie scores. Graph
features (``model.with_graph``) are built in each outer part from the labels of its training rows
only, so an outer test label never reaches a feature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

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


# Isotonic regression is fitted only when the calibration rows hold at least this many of the
# rarer class (the positives, in fraud). It fits a step function, one flat step per block of
# pooled labels: with a few dozen positives it pools all but the very top scores into one or
# two steps, so distinct raw scores get the same probability and their ranking is lost (29
# positive rows on one province gave two values and a ROC-AUC of 0.52). Below it, Platt
# scaling: two parameters, strictly increasing, so distinct scores stay distinct. Platt scaling
# is the better choice when calibration data is scarce (Niculescu-Mizil and Caruana, 2005);
# 100 is a judgement, not a measurement: enough positives for isotonic steps finer than a few
# blocks.
ISOTONIC_MIN_POSITIVES = 100

# Raw scores are clipped this far inside (0, 1) before their logit is taken (a raw 0 or 1 has
# none).
_LOGIT_EPS = 1e-12

CalibrationMethod = Literal["isotonic", "platt", "none"]
METHODS: tuple[CalibrationMethod, ...] = ("isotonic", "platt", "none")


def _logit(scores: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(scores, dtype="float64"), _LOGIT_EPS, 1.0 - _LOGIT_EPS)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class Calibration:
    """A monotone map from raw scores to probabilities, one of three kinds (``method``):

    - ``isotonic``: linear between breakpoints ``x`` -> ``y``, flat outside them;
    - ``platt``: ``1 / (1 + exp(-(slope * logit(score) + intercept)))``, strictly increasing;
    - ``none``: the raw score unchanged.
    """

    method: CalibrationMethod = "none"
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        raw = np.asarray(scores, dtype="float64")
        if self.method == "isotonic" and self.x:
            return np.interp(raw, self.x, self.y)
        if self.method == "platt":
            z = self.slope * _logit(raw) + self.intercept
            return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow
        return raw

    def to_json(self) -> dict[str, Any]:
        """The calibration as JSON: ``method`` and that method's parameters."""
        if self.method == "isotonic":
            return {"method": "isotonic", "x": list(self.x), "y": list(self.y)}
        if self.method == "platt":
            return {"method": "platt", "slope": self.slope, "intercept": self.intercept}
        return {"method": "none"}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Calibration:
        """Read what ``to_json`` wrote; artefacts saved before ``method`` existed hold isotonic
        breakpoints only (or nothing: no calibration)."""
        if not data:
            return cls()
        method = data.get("method", "isotonic" if data.get("x") else "none")
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r}")
        if method == "isotonic":
            return cls("isotonic", tuple(map(float, data["x"])), tuple(map(float, data["y"])))
        if method == "platt":
            return cls(method="platt", slope=float(data["slope"]),
                       intercept=float(data["intercept"]))
        return cls()


def calibrate(y: np.ndarray, scores: np.ndarray) -> Calibration:
    """Calibration of ``scores`` against 0/1 ``y``: isotonic regression when both classes have
    at least ``ISOTONIC_MIN_POSITIVES`` rows, Platt scaling below that, none when ``y`` holds
    one class only (nothing to fit)."""
    y = np.asarray(y, dtype=int)
    scores = np.asarray(scores, dtype="float64")
    counts = np.bincount(y, minlength=2)
    if counts.min() == 0:
        return Calibration()
    if counts.min() >= ISOTONIC_MIN_POSITIVES:
        return _isotonic(y, scores)
    return _platt(y, scores)


def _isotonic(y: np.ndarray, scores: np.ndarray) -> Calibration:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(scores, y.astype("float64"))
    return Calibration("isotonic", tuple(map(float, iso.X_thresholds_)),
                       tuple(map(float, iso.y_thresholds_)))


def _platt(y: np.ndarray, scores: np.ndarray) -> Calibration:
    """Logistic regression of ``y`` on the logit of ``scores``; no calibration when the fitted
    slope is not positive (the scores do not rank the labels: a map would reverse or flatten
    them)."""
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression().fit(_logit(scores).reshape(-1, 1), y)
    slope, intercept = float(fit.coef_[0, 0]), float(fit.intercept_[0])
    if not slope > 0.0:
        return Calibration()
    return Calibration(method="platt", slope=slope, intercept=intercept)


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
                     f"threshold {c.threshold:.3f}, {c.calibration.method} calibration, "
                     f"{_describe(c.params)}")
    metrics = m.metrics_of(y, predicted, raw)  # ranking of the raw scores
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
