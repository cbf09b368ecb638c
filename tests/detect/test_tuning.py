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
    assert cal.method == "isotonic"  # thousands of each class
    fixed = cal(raw)
    assert np.all(np.diff(cal(np.sort(raw))) >= 0)  # monotone
    assert np.mean((fixed - y) ** 2) < np.mean((raw - y) ** 2) - 0.02
    middle = (fixed > 0.4) & (fixed < 0.6)
    assert y[middle].mean() == pytest.approx(0.5, abs=0.05)
    again = tuning.Calibration.from_json(cal.to_json())
    assert np.array_equal(again(raw), fixed)


def _few(positives: int, n: int = 3_000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``positives`` fraud rows among ``n``, fraud scoring higher on average, every raw score
    distinct."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, positives, replace=False)] = 1
    raw = 1.0 / (1.0 + np.exp(-rng.normal(-4.0 + 2.5 * y, 1.0)))
    assert np.unique(raw).size == n
    return y, raw


def test_few_positives_calibrate_by_platt_scaling_and_keep_the_ranking() -> None:
    """29 positives (as on the province whose isotonic fit gave two values): Platt scaling,
    strictly increasing, so distinct raw scores stay distinct and the ranking is the raw one."""
    from sklearn.metrics import roc_auc_score

    y, raw = _few(29)
    assert tuning.ISOTONIC_MIN_POSITIVES > 29
    cal = tuning.calibrate(y, raw)
    assert cal.method == "platt" and cal.slope > 0
    order = np.argsort(raw)
    assert np.all(np.diff(cal(raw[order])) > 0)  # strictly increasing on distinct raw scores
    assert np.unique(cal(raw)).size == raw.size
    assert roc_auc_score(y, cal(raw)) == pytest.approx(roc_auc_score(y, raw))
    assert cal(raw).mean() == pytest.approx(y.mean(), rel=0.2)  # probabilities, near the rate
    assert tuning.Calibration.from_json(cal.to_json()) == cal
    assert np.array_equal(tuning.Calibration.from_json(cal.to_json())(raw), cal(raw))


def test_many_positives_calibrate_by_isotonic_regression() -> None:
    y, raw = _few(tuning.ISOTONIC_MIN_POSITIVES)
    cal = tuning.calibrate(y, raw)
    assert cal.method == "isotonic" and cal.x and list(cal.y) == sorted(cal.y)
    assert cal.to_json()["method"] == "isotonic"
    assert tuning.Calibration.from_json(cal.to_json()) == cal
    fewer = tuning.calibrate(*_few(tuning.ISOTONIC_MIN_POSITIVES - 1))
    assert fewer.method == "platt"


@pytest.mark.parametrize("label", [0, 1])
def test_one_class_is_not_calibrated(label: int) -> None:
    raw = np.linspace(0.01, 0.99, 50)
    cal = tuning.calibrate(np.full(raw.size, label), raw)
    assert cal.method == "none" and np.array_equal(cal(raw), raw)
    assert cal.to_json() == {"method": "none"}
    assert tuning.Calibration.from_json(cal.to_json()) == cal


def test_scores_that_do_not_rank_are_not_calibrated() -> None:
    """Fraud scoring lower than honest numbers: a Platt map would reverse the ranking."""
    y, raw = _few(29)
    assert tuning.calibrate(y, 1.0 - raw).method == "none"


def test_artefacts_saved_before_the_method_existed_still_load() -> None:
    """Isotonic breakpoints only (no ``method``), or no calibration at all (None, {})."""
    old = tuning.Calibration.from_json({"x": [0.1, 0.5, 0.9], "y": [0.0, 0.2, 1.0]})
    assert old.method == "isotonic" and old.x == (0.1, 0.5, 0.9)
    assert old(np.array([0.0, 0.3, 0.5, 1.0])).tolist() == pytest.approx([0.0, 0.1, 0.2, 1.0])
    assert old.to_json() == {"method": "isotonic", "x": [0.1, 0.5, 0.9], "y": [0.0, 0.2, 1.0]}
    raw = np.array([0.2, 0.7])
    for empty in (None, {}, {"x": [], "y": []}):
        cal = tuning.Calibration.from_json(empty)
        assert cal.method == "none" and np.array_equal(cal(raw), raw)
    with pytest.raises(ValueError, match="unknown calibration method"):
        tuning.Calibration.from_json({"method": "beta"})


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
