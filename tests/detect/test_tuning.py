"""Nested cross-validation: threshold and hyperparameters chosen inside, calibration, no leaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from telshield.detect import model as m
from telshield.detect import tuning


def _rare(n: int = 900, rate: float = 0.04, signal: float = 1.2, seed: int = 5) -> pd.DataFrame:
    """A rare class, visible but not cleanly: raw scores seldom reach 0.5."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    return pd.DataFrame({"msisdn": [f"86139{i:08d}" for i in range(n)],
                         "spread": rng.normal(y * signal, 1.0), "noise": rng.normal(0, 1, n),
                         "label": y})


def test_best_threshold_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    assert tuning.best_threshold(y, np.array([0.1, 0.2, 0.7, 0.9])) == 0.7
    # Overlap: 0.35 misses one positive, 0.3 admits a negative; one error either way, the
    # higher threshold wins the tie.
    y = np.array([0, 0, 0, 1, 1, 1])
    assert tuning.best_threshold(y, np.array([0.1, 0.2, 0.35, 0.3, 0.6, 0.9])) == 0.6


def test_calibration_maps_scores_to_frequencies() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(20_000)
    y = (rng.random(p.size) < p).astype(int)
    raw = p**3  # ranks right, probabilities wrong
    cal = tuning.calibrate(y, raw)
    fixed = cal(raw)
    assert np.all(np.diff(cal(np.sort(raw))) >= 0)  # monotone
    assert np.mean((fixed - y) ** 2) < np.mean((raw - y) ** 2) - 0.02
    middle = (fixed > 0.4) & (fixed < 0.6)
    assert y[middle].mean() == pytest.approx(0.5, abs=0.05)
    again = tuning.Calibration.from_json(cal.to_json())
    assert np.array_equal(again(raw), fixed)


def test_nested_choice_beats_half_on_a_rare_class() -> None:
    frame = _rare()
    y = frame.label.to_numpy()
    res = tuning.nested_cv(frame, y, ["spread", "noise"], outer=3, inner=2)
    at_half = m.metrics(y, res.raw, 0.5)
    assert len(res.choices) == 3 and all(c.params in tuning.GRID for c in res.choices)
    assert res.metrics["f1_macro"] > at_half["f1_macro"] + 0.03
    assert res.metrics["recall_positive"] > 3 * at_half["recall_positive"]
    chosen = tuning.deployed(res, y)
    assert 0.0 < chosen.threshold < 1.0 and chosen.params in tuning.GRID


def test_nothing_learnt_from_noise() -> None:
    """Labels independent of every feature: an honest outer estimate stays near chance (a
    threshold or grid point chosen on the test rows would not)."""
    rng = np.random.default_rng(11)
    n = 600
    frame = pd.DataFrame({"msisdn": [f"86137{i:08d}" for i in range(n)],
                          "a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (rng.random(n) < 0.2).astype(int)
    res = tuning.nested_cv(frame, y, ["a", "b"], outer=3, inner=2)
    assert res.metrics["roc_auc"] < 0.62
    assert res.metrics["f1_macro"] < 0.6
