"""Evaluation against truth: a replay on the toy province, and the judging arithmetic."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import pandas as pd
import pytest
from tests.toy import make_toy, write_world

from telshield.evaluate.detection import VARIANTS, evaluate_detection, judge
from telshield.services.alerts import InMemoryAlertSink
from telshield.services.detection import DetectConfig, Detector
from telshield.services.lakeread import FeedReader
from telshield.services.rules import load_rules

T0 = datetime(2026, 11, 1)


class ToyWorld(Protocol):
    """Writes a toy province (``normal``, ``couriers`` and ``fraud`` numbers over ``days``) as a
    world and returns its folder and a detector with the shipped rules reading it."""

    def __call__(self, *, normal: int, couriers: int, fraud: int,
                 days: int) -> tuple[Path, Detector]: ...


@pytest.fixture
def toy_world(tmp_path: Path) -> ToyWorld:
    """Builds a toy world under ``tmp_path / "world"`` and a rules-only detector over it."""

    def build(*, normal: int, couriers: int, fraud: int, days: int) -> tuple[Path, Detector]:
        world = tmp_path / "world"
        write_world(make_toy(normal=normal, couriers=couriers, fraud=fraud, days=days), world)
        det = Detector(FeedReader(world), InMemoryAlertSink(), DetectConfig(), load_rules(None))
        return world, det

    return build


def test_replay_on_toy_world(toy_world: ToyWorld) -> None:
    world, det = toy_world(normal=120, couriers=8, fraud=8, days=4)
    r = evaluate_detection(det, world, step=timedelta(hours=12), warmup_days=1)
    assert r.positives == 8
    assert r.recall_24h == 1.0 and r.precision == 1.0
    assert r.fp_rate_hard["courier"] == (0, 8)
    assert 0 < r.median_hours_to_alert <= 12


def test_judge_arithmetic() -> None:
    truth = pd.DataFrame({
        "role": ["fraud_sim", "fraud_sim", "den_sim", "courier", "normal", "spoofed"],
        "scenario": ["s"] * 6,
        "first_fraud_call_at": [T0 + timedelta(hours=2), T0 + timedelta(hours=2),
                                T0 + timedelta(hours=3), None, None, T0],
    }, index=["f1", "f2", "d1", "c1", "n1", "sp"])
    scored = pd.DataFrame({
        "best_score": [0.9, 0.6, 0.95, 0.7, 0.1, 0.9],
        "first_alert": [T0 + timedelta(hours=4), T0 + timedelta(hours=40),
                        T0 + timedelta(hours=5), T0 + timedelta(hours=6), None,
                        T0 + timedelta(hours=1)],
    }, index=["f1", "f2", "d1", "c1", "n1", "sp"])
    r = judge(scored, truth, T0, T0 + timedelta(days=3), runs=3)
    assert r.positives == 3
    assert r.recall_24h == pytest.approx(2 / 3)  # f2 was caught too late
    assert r.precision == pytest.approx(3 / 4)  # the courier; the spoofed number is not judged
    assert r.recall_by_role["fraud_sim"] == (1, 2) and r.recall_by_role["den_sim"] == (1, 1)
    assert r.recall_by_scenario == {"s": (2, 3)}
    assert r.fp_rate_hard["courier"] == (1, 1)
    assert r.median_hours_to_alert == pytest.approx(2.0)
    assert r.roc_auc == pytest.approx(1.0 - 1 / 6)  # courier 0.7 outranks f2 0.6


@pytest.mark.slow
def test_rules_model_and_both_are_judged_side_by_side(toy_world: ToyWorld,
                                                      tmp_path: Path) -> None:
    """With a model trained on the first days' clues, the report judges the rules alone, the
    model alone and both; the rules alone are what detection alerts on by default (the model
    never alerts alone)."""
    world, det = toy_world(normal=120, couriers=8, fraud=12, days=6)
    r = evaluate_detection(det, world, step=timedelta(hours=12), warmup_days=1,
                           train_days=3, models_dir=tmp_path / "models")
    assert r.model_version and list(r.variants) == list(VARIANTS)
    rules, model, both = (r.variants[v] for v in VARIANTS)
    assert (rules.precision, rules.recall_24h, rules.alerted) == (
        r.precision, r.recall_24h, r.alerted)
    assert rules.verify is not None and r.verify is not None
    assert rules.verify.recall_24h == r.verify.recall_24h
    # Both alert on every number either alerts on, at least as early.
    assert both.alerted >= max(rules.alerted, model.alerted)
    assert both.recall_24h >= max(rules.recall_24h, model.recall_24h)
    assert 0.0 <= model.roc_auc <= 1.0


def test_without_a_model_there_is_nothing_to_compare(toy_world: ToyWorld) -> None:
    world, det = toy_world(normal=60, couriers=4, fraud=4, days=3)
    r = evaluate_detection(det, world, step=timedelta(hours=12), warmup_days=1)
    assert r.variants == {}
