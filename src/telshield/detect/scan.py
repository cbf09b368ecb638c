"""Kulldorff's prospective space-time scan statistic (Poisson model) over regions x time buckets.

The counts are ``observed[z, t]``: cases in region ``z`` (a county) in time bucket ``t`` of the
scan period, the last bucket ending at the run's moment. Each region has its own expected count
per bucket (``expected[z]``, from its own history), so a county that is always busy is measured
against its busy self, not against the quiet ones. A cylinder is one region and the last ``w``
buckets (1 <= w <= number of buckets): prospective, it always ends now, since a hotspot that has
stopped is no longer news.

Conditioned on the total count ``C`` of the scan period (Kulldorff 1997, 2001), a cylinder with
``c`` observed and ``mu`` expected cases (expectations rescaled so they sum to ``C``) has the log
likelihood ratio ``c ln(c/mu) + (C-c) ln((C-c)/(C-mu))`` when ``c > mu``, else 0. The p-value of
a cylinder is the rank of its ratio among the largest ratios of ``replicates`` Monte Carlo data
sets drawn under the null (the total spread over cells in proportion to expectation), ``(1 +
#null >= observed) / (1 + replicates)``. Each region's best cylinder is reported, tested
against the same null distribution of the maximum (Kulldorff's secondary clusters: conservative).

Counts are small (a hundred-odd counties, a few dozen buckets), so this is numpy, not the lake.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Cylinder:
    """One region's most unusual recent window."""

    region: int  # index into the regions
    buckets: int  # the last ``buckets`` buckets of the scan period
    observed: int
    expected: float  # under the null, rescaled to the period's total
    llr: float
    p_value: float

    @property
    def factor(self) -> float:
        """Observed over expected."""
        return self.observed / self.expected if self.expected > 0 else float("inf")


def _llr(c: np.ndarray, mu: np.ndarray, total: float) -> np.ndarray:
    """Kulldorff's Poisson log likelihood ratio, elementwise (0 where c <= mu)."""
    c = c.astype(np.float64)
    out = np.zeros(np.broadcast(c, mu).shape)
    hot = (c > mu) & (mu > 0)
    cc, mm = np.broadcast_to(c, out.shape)[hot], np.broadcast_to(mu, out.shape)[hot]
    rest, rest_mu = total - cc, total - mm
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = cc * np.log(cc / mm)
        outside = np.where(rest > 0, rest * np.log(np.where(rest > 0, rest, 1.0) / rest_mu), 0.0)
    out[hot] = inside + outside
    return out


def _windows(x: np.ndarray) -> np.ndarray:
    """``x[..., z, t]`` -> ``[..., z, w]``: the sum of the last ``w + 1`` buckets."""
    return np.cumsum(x[..., ::-1], axis=-1)


def scan(observed: np.ndarray, expected: np.ndarray, *, replicates: int = 999,
         seed: int = 0) -> list[Cylinder]:
    """Each region's best recent cylinder with its p-value, most significant first.

    ``observed`` is ``[regions, buckets]`` (oldest bucket first); ``expected`` is each region's
    expected count per bucket (``[regions]``) or per region and bucket (``[regions, buckets]``).
    Regions whose best cylinder has no excess are left out.
    """
    obs = np.asarray(observed, dtype=np.int64)
    if obs.ndim != 2:
        raise ValueError("observed must be regions x buckets")
    exp = np.broadcast_to(np.asarray(expected, dtype=np.float64)
                          .reshape(-1, 1 if np.ndim(expected) == 1 else obs.shape[1]),
                          obs.shape).astype(np.float64)
    if (exp < 0).any():
        raise ValueError("expected counts must not be negative")
    total = int(obs.sum())
    if total == 0 or exp.sum() <= 0:
        return []
    mu = exp * (total / exp.sum())
    mu_w = _windows(mu)
    llr = _llr(_windows(obs), mu_w, float(total))
    best_w = llr.argmax(axis=1)
    best = llr[np.arange(len(obs)), best_w]
    rng = np.random.default_rng(seed)
    p = (mu / mu.sum()).ravel()
    null_max = np.empty(replicates)
    for i in range(replicates):
        sim = rng.multinomial(total, p).reshape(obs.shape)
        null_max[i] = _llr(_windows(sim), mu_w, float(total)).max()
    out = []
    cum = _windows(obs)
    for z in np.flatnonzero(best > 0):
        w = int(best_w[z])
        pv = (1 + int((null_max >= best[z] - 1e-9).sum())) / (1 + replicates)
        out.append(Cylinder(region=int(z), buckets=w + 1, observed=int(cum[z, w]),
                            expected=float(mu_w[z, w]), llr=float(best[z]), p_value=pv))
    return sorted(out, key=lambda c: (c.p_value, -c.llr))
