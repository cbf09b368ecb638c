"""The space-time scan alone: an excess in one region's recent buckets is found with the right
window and a small p-value; the same counts spread as expected are not significant; a region
that is busy by its own baseline is not alerted."""

from __future__ import annotations

import numpy as np
import pytest

from telshield.detect.scan import scan


def test_recent_excess_found_with_its_window() -> None:
    obs = np.ones((10, 4), dtype=np.int64)
    obs[3, 2:] = [9, 11]  # region 3's last two buckets
    best = scan(obs, np.ones(10), replicates=199, seed=1)[0]
    assert (best.region, best.buckets, best.observed) == (3, 2, 20)
    assert best.p_value <= 0.01 and best.factor > 5


def test_counts_as_expected_are_not_significant() -> None:
    rng = np.random.default_rng(3)
    exp = np.linspace(1, 5, 20)
    obs = rng.poisson(np.repeat(exp[:, None], 4, axis=1))
    assert all(c.p_value > 0.01 for c in scan(obs, exp, replicates=199))


def test_busy_region_judged_by_its_own_baseline() -> None:
    obs = np.ones((10, 4), dtype=np.int64)
    obs[0] = 20  # always twenty: its baseline says so
    exp = np.ones(10)
    exp[0] = 20.0
    assert all(c.region != 0 for c in scan(obs, exp, replicates=99))
    assert scan(np.zeros((3, 2)), np.ones(3)) == []
    with pytest.raises(ValueError, match="regions x buckets"):
        scan(np.zeros(3), np.ones(3))
