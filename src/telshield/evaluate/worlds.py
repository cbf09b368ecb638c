"""Detection judged on many provinces drawn from the prior: the multi-world protocol.

N provinces are generated with seeds ``seed_base .. seed_base + N - 1`` (with ``randomise``,
each drawn from the prior of ``world/prior.toml``), or reused from a cache keyed by everything
that makes them — the config, the seed and the simulator's own source — and detection is
evaluated on each exactly as ``telshield evaluate detection --world`` does
(``evaluate.detection.evaluate_detection``). The figures are per world, per tier (watch or
above, verify or above), and per honest role (the share of its numbers alerted), summarised by
the median and the **worst decile**: the value that 90 % of the provinces reach or beat (for 20
provinces, the second worst). Bars are judged on the worst decile, so that a detector cannot pass
by fitting one province.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from telshield.evaluate.detection import DetectionReport, evaluate_detection
from telshield.services.detection import Detector
from telshield.world.config import WorldConfig
from telshield.world.generate import generate

log = structlog.get_logger(__name__)

TIERS = ("watch", "verify")  # alerts at watch or above, at verify or above


@dataclass(frozen=True)
class Protocol:
    """What to draw and how to judge it."""

    worlds: int
    seed_base: int
    config: WorldConfig  # sizes, window and whether to randomise (the prior)
    step: timedelta = timedelta(hours=6)
    warmup_days: int = 3

    @property
    def seeds(self) -> list[int]:
        """The seeds of the provinces, in order."""
        return list(range(self.seed_base, self.seed_base + self.worlds))


@dataclass(frozen=True)
class TierFigures:
    """One world's figures at one tier."""

    precision: float
    recall_24h: float
    positives: int
    alerted: int
    median_hours_to_alert: float
    recall_by_role: dict[str, tuple[int, int]]  # caught, of
    fp_by_role: dict[str, tuple[int, int]]  # alerted, of (honest roles)

    @classmethod
    def of(cls, r: DetectionReport) -> TierFigures:
        """The figures of a detection report."""
        return cls(r.precision, r.recall_24h, r.positives, r.alerted, r.median_hours_to_alert,
                   dict(r.recall_by_role), dict(r.fp_rate_hard))


@dataclass(frozen=True)
class WorldResult:
    """One province: its seed, where it lies, and its figures per tier."""

    seed: int
    path: str
    tiers: dict[str, TierFigures]
    generate_s: float
    evaluate_s: float
    rules_version: str = ""


@dataclass(frozen=True)
class Spread:
    """A figure over the worlds: median, worst decile, worst and best, and how many worlds."""

    median: float
    worst_decile: float
    worst: float
    best: float
    worlds: int

    @classmethod
    def of(cls, values: list[float], *, higher_is_better: bool) -> Spread:
        """Summarise ``values`` (NaNs, worlds without the figure, are left out)."""
        v = np.array([x for x in values if not math.isnan(x)], dtype=float)
        if not len(v):
            return cls(math.nan, math.nan, math.nan, math.nan, 0)
        if higher_is_better:
            decile, worst, best = np.percentile(v, 10, method="lower"), v.min(), v.max()
        else:
            decile, worst, best = np.percentile(v, 90, method="higher"), v.max(), v.min()
        return cls(float(np.median(v)), float(decile), float(worst), float(best), len(v))


@dataclass
class WorldsReport:
    """The protocol's results: every world, and the summary per tier and per role."""

    protocol: dict[str, Any]
    results: list[WorldResult] = field(default_factory=list)

    def spread(self, tier: str, figure: str) -> Spread:
        """Precision, recall_24h or median_hours_to_alert of ``tier`` across the worlds."""
        values = [float(getattr(r.tiers[tier], figure)) for r in self.results]
        return Spread.of(values, higher_is_better=figure != "median_hours_to_alert")

    def roles(self, tier: str) -> list[str]:
        """The honest roles with numbers in at least one world."""
        seen = {k for r in self.results for k, (_, of) in r.tiers[tier].fp_by_role.items() if of}
        return sorted(seen)

    def fp_spread(self, tier: str, role: str) -> Spread:
        """The share of a role's numbers alerted, across the worlds where the role exists."""
        values = [a / of for r in self.results
                  if (of := r.tiers[tier].fp_by_role.get(role, (0, 0))[1])
                  for a in [r.tiers[tier].fp_by_role[role][0]]]
        return Spread.of(values, higher_is_better=False)

    def fp_pooled(self, tier: str, role: str) -> tuple[int, int]:
        """Alerted and total numbers of a role, summed over the worlds."""
        pairs = [r.tiers[tier].fp_by_role.get(role, (0, 0)) for r in self.results]
        return sum(a for a, _ in pairs), sum(of for _, of in pairs)

    def to_json(self) -> dict[str, Any]:
        """Everything, per world and summarised, as plain JSON."""
        summary: dict[str, Any] = {}
        for tier in TIERS:
            summary[tier] = {
                "precision": asdict(self.spread(tier, "precision")),
                "recall_24h": asdict(self.spread(tier, "recall_24h")),
                "median_hours_to_alert": asdict(self.spread(tier, "median_hours_to_alert")),
                "fp_rate_by_role": {
                    role: {**asdict(self.fp_spread(tier, role)),
                           "pooled": list(self.fp_pooled(tier, role))}
                    for role in self.roles(tier)},
            }
        return {"protocol": self.protocol, "summary": summary,
                "worlds": [_nan_free(asdict(r)) for r in self.results]}


def _nan_free(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _nan_free(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_nan_free(v) for v in x]
    return x


def simulator_fingerprint() -> str:
    """A digest of the simulator's source and data files: a cached province is reused only if
    the code that made it is the code that would make it now."""
    h = hashlib.sha256()
    root = resources.files("telshield.world")
    for item in sorted(root.iterdir(), key=lambda t: t.name):
        if item.name.endswith((".py", ".toml")):
            h.update(item.name.encode())
            h.update(item.read_bytes())
    return h.hexdigest()


def world_key(cfg: WorldConfig, seed: int, fingerprint: str) -> str:
    """The cache key of one province."""
    blob = json.dumps({"config": cfg.model_dump(), "seed": seed, "simulator": fingerprint},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def ensure_world(cfg: WorldConfig, seed: int, cache: Path, fingerprint: str
                 ) -> tuple[Path, float]:
    """The province for ``cfg`` and ``seed`` under ``cache``, generated if it is not there yet
    (``world.json`` is written last, so a folder without it is an interrupted run)."""
    out = cache / f"seed-{seed}-{world_key(cfg, seed, fingerprint)}"
    if (out / "world.json").exists():
        return out, 0.0
    t0 = time.perf_counter()
    generate(cfg, seed, out, overwrite=True)
    return out, time.perf_counter() - t0


def evaluate_worlds(
    protocol: Protocol, make_detector: Callable[[Path], Detector], cache: Path,
    progress: Callable[[str], None] | None = None,
) -> WorldsReport:
    """Generate (or reuse) each province of the protocol and evaluate detection on it."""
    say = progress or (lambda _m: None)
    cache.mkdir(parents=True, exist_ok=True)
    fingerprint = simulator_fingerprint()
    cfg = protocol.config
    report = WorldsReport(protocol={
        "worlds": protocol.worlds, "seed_base": protocol.seed_base, "seeds": protocol.seeds,
        "randomised": cfg.randomise.enabled, "subscribers": cfg.world.subscribers,
        "days": cfg.world.days, "start": cfg.world.start,
        "step_hours": protocol.step.total_seconds() / 3600, "warmup_days": protocol.warmup_days,
        "simulator": fingerprint[:16],
    })
    for k, seed in enumerate(protocol.seeds):
        say(f"world {k + 1}/{protocol.worlds} (seed {seed}): generating")
        path, gen_s = ensure_world(cfg, seed, cache, fingerprint)
        say(f"world {k + 1}/{protocol.worlds} (seed {seed}): detecting")
        t0 = time.perf_counter()
        r = evaluate_detection(make_detector(path), path, step=protocol.step,
                               warmup_days=protocol.warmup_days)
        assert r.verify is not None
        result = WorldResult(seed=seed, path=str(path),
                             tiers={"watch": TierFigures.of(r), "verify": TierFigures.of(r.verify)},
                             generate_s=gen_s, evaluate_s=time.perf_counter() - t0,
                             rules_version=r.rules_version)
        report.results.append(result)
        log.info("evaluate.world", seed=seed, precision=r.precision, recall=r.recall_24h,
                 verify_precision=r.verify.precision, verify_recall=r.verify.recall_24h)
    return report
