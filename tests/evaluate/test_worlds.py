"""The multi-world protocol: the worst-decile arithmetic, the province cache, and a real run."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telshield.evaluate.worlds import (
    Protocol,
    Spread,
    TierFigures,
    WorldResult,
    WorldsReport,
    ensure_world,
    evaluate_worlds,
    simulator_fingerprint,
    world_key,
)
from telshield.services.alerts import InMemoryAlertSink
from telshield.services.detection import DetectConfig, Detector
from telshield.services.lakeread import FeedReader
from telshield.services.rules import load_rules
from telshield.world.config import load_config, randomised


def test_worst_decile_is_what_nine_in_ten_provinces_reach() -> None:
    values = [0.5, 0.7] + [0.9 + i / 1000 for i in range(18)]  # 20 provinces
    s = Spread.of(values, higher_is_better=True)
    assert s.worst_decile == 0.7  # the second worst of twenty
    assert s.worst == 0.5 and s.worlds == 20
    fp = Spread.of([0.0] * 17 + [0.01, 0.2, 0.5], higher_is_better=False)
    assert fp.worst_decile == 0.2 and fp.worst == 0.5 and fp.median == 0.0
    assert Spread.of([math.nan, 1.0], higher_is_better=True).worlds == 1
    assert math.isnan(Spread.of([], higher_is_better=True).median)


def _tier(precision: float, fp: dict[str, tuple[int, int]]) -> TierFigures:
    return TierFigures(precision, 1.0, 10, 10, 2.0, {}, fp)


def test_report_summarises_per_tier_and_per_role() -> None:
    report = WorldsReport(protocol={"worlds": 3})
    for seed, (p, tm) in enumerate([(0.9, (1, 10)), (0.8, (0, 5)), (1.0, (0, 0))]):
        tiers = {"watch": _tier(p, {"telemarketing": tm, "courier": (0, 20)}),
                 "verify": _tier(p, {"telemarketing": (0, tm[1]), "courier": (0, 20)})}
        report.results.append(WorldResult(seed, "", tiers, 0.0, 0.0))
    assert report.spread("watch", "precision").median == 0.9
    assert report.roles("watch") == ["courier", "telemarketing"]
    tm = report.fp_spread("watch", "telemarketing")
    assert tm.worlds == 2 and tm.worst == 0.1  # the province without offices is left out
    assert report.fp_pooled("watch", "telemarketing") == (1, 15)
    out = report.to_json()
    assert out["summary"]["verify"]["fp_rate_by_role"]["telemarketing"]["pooled"] == [0, 15]
    json.dumps(out)  # plain JSON


def test_provinces_are_cached_by_their_parameters(tmp_path: Path) -> None:
    cfg = randomised(load_config(subscribers=300, days=2))
    fp = simulator_fingerprint()
    a, took = ensure_world(cfg, 1000, tmp_path, fp)
    assert took > 0 and (a / "world.json").exists()
    again, took = ensure_world(cfg, 1000, tmp_path, fp)
    assert again == a and took == 0.0
    assert world_key(cfg, 1001, fp) != world_key(cfg, 1000, fp)
    assert world_key(load_config(subscribers=300, days=2), 1000, fp) != world_key(cfg, 1000, fp)
    assert world_key(cfg, 1000, "other simulator") != world_key(cfg, 1000, fp)


def _detector(world: Path) -> Detector:
    return Detector(FeedReader(world), InMemoryAlertSink(), DetectConfig(), load_rules(None))


@pytest.mark.slow
def test_the_protocol_runs_detection_on_each_province(tmp_path: Path) -> None:
    cfg = randomised(load_config(subscribers=800, days=4))
    protocol = Protocol(worlds=2, seed_base=1000, config=cfg, step=timedelta(hours=24),
                        warmup_days=2)
    seen: list[str] = []
    report = evaluate_worlds(protocol, _detector, tmp_path, progress=seen.append)
    assert [r.seed for r in report.results] == [1000, 1001]
    assert any("detecting" in m for m in seen)
    for r in report.results:
        w, v = r.tiers["watch"], r.tiers["verify"]
        assert w.positives > 0 and v.positives == w.positives
        assert v.alerted <= w.alerted  # verify or above is a subset of watch or above
        assert 0 <= w.precision <= 1 and 0 <= v.recall_24h <= w.recall_24h <= 1
        assert "telemarketing" in w.fp_by_role  # every look-alike is judged
    assert report.protocol["randomised"] and report.protocol["seeds"] == [1000, 1001]


@pytest.mark.slow
def test_cli_runs_the_protocol_and_writes_json(tmp_path: Path) -> None:
    from telshield.cli import _register, app

    _register()
    out = tmp_path / "w.json"
    r = CliRunner().invoke(app, [
        "evaluate", "detection", "--worlds", "1", "--randomise", "--seed-base", "1000",
        "--subscribers", "600", "--days", "4", "--step", "24h", "--warmup-days", "2",
        "--worlds-dir", str(tmp_path / "cache"), "--json", str(out),
        "--data-dir", str(tmp_path / "data")])
    assert r.exit_code == 0, r.output
    assert "worst decile" in r.output and "telemarketing" in r.output
    data = json.loads(out.read_text())
    assert data["protocol"]["seeds"] == [1000] and len(data["worlds"]) == 1
    r = CliRunner().invoke(app, ["evaluate", "detection", "--data-dir", str(tmp_path / "d")])
    assert r.exit_code != 0  # neither --world nor --worlds
