"""A trained model acts only once chosen, only on the lake's features, and never alone.

The documented flow `model train` then `detect` put honest subscribers in the suspend tier on
the model's score alone, although the settings say the model alone never alerts; and a model
trained on a feature table made the next plain `detect` fail.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.toy import START, Toy, make_toy

from telshield.domain.errors import InvalidInput, NotFound
from telshield.services.alerts import InMemoryAlertSink
from telshield.services.detection import DetectConfig, Detector, train_from_lake
from telshield.services.lakeread import FeedReader
from telshield.services.model import (
    LAKE,
    TABLE,
    Artefact,
    TableSpec,
    catalogue,
    choose,
    chosen,
    load,
    train_table,
    unchoose,
)
from telshield.services.rules import load_rules
from telshield.settings import Settings
from telshield.wiring.detection import detection_model, detector


@pytest.fixture(scope="module")
def toy() -> Toy:
    return make_toy(normal=150, couriers=10, fraud=10, days=4)


@pytest.fixture
def lake(toy: Toy, tmp_path: Path) -> Path:
    toy.write(tmp_path / "lake")
    return tmp_path / "lake"


@dataclass
class Certain:
    """A booster sure that every number is fraud (LightGBM can round to exactly 1.0)."""

    names: list[str]

    def feature_name(self) -> list[str]:
        return self.names

    def predict(self, x: np.ndarray, pred_contrib: bool = False) -> np.ndarray:
        if pred_contrib:
            return np.hstack([np.ones_like(x), np.zeros((len(x), 1))])
        return np.ones(len(x))


def _rules_only(lake: Path, config: DetectConfig = DetectConfig()) -> Detector:
    return Detector(FeedReader(lake), InMemoryAlertSink(), config, load_rules(None))


def _certain(det: Detector) -> Artefact:
    names = det.model_features()
    return Artefact("mcertain", Certain(names), names, {"kind": LAKE})  # type: ignore[arg-type]


def test_model_alone_never_alerts_by_default(lake: Path) -> None:
    rules_only = _rules_only(lake)
    until = START + timedelta(days=3)
    frame = rules_only.features(until)
    base = rules_only.alerts(rules_only.score(frame), until)
    with_model = replace(rules_only, model=_certain(rules_only))
    scored = with_model.score(frame)
    assert (scored["model_score"] == 1.0).all()
    alerts = with_model.alerts(scored, until)
    # The same numbers, tiers and scores as the rules alone: the model only adds reasons.
    assert {(a.msisdn, a.tier, a.score) for a in alerts} == \
        {(a.msisdn, a.tier, a.score) for a in base}
    assert len(alerts) < len(frame) / 2
    assert all(any(r.code.startswith("rule:") for r in a.reasons) for a in alerts)


def test_model_alone_alerts_only_from_the_threshold_settings_give(lake: Path) -> None:
    det = _rules_only(lake, DetectConfig(model_alone=0.95))
    det = replace(det, model=_certain(det))
    until = START + timedelta(days=3)
    frame = det.score(det.features(until))
    assert (frame["score"] == 1.0).all()  # allowed: every number alerted on the model alone
    assert DetectConfig(model_alone=1.0).model_may_alert_alone(np.array([1.0])).tolist() == [False]
    assert DetectConfig(model_alone=0.9).model_may_alert_alone(
        np.array([0.89, 0.9, 1.0])).tolist() == [False, True, True]


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def test_a_trained_model_acts_only_once_chosen(lake: Path, tmp_path: Path) -> None:
    s = _settings(tmp_path)
    models = s.data_dir / "models"
    art = train_from_lake(_rules_only(lake), START, START + timedelta(days=4), models)
    assert art.kind == LAKE and art.meta["kind"] == LAKE
    assert detection_model(s) is None  # trained, not chosen: rules only
    assert detector(s, lake=lake, keep_state=False).model is None
    assert [(i.version, i.kind, i.chosen) for i in catalogue(models)] == \
        [(art.version, LAKE, False)]
    info = choose(models, art.version)
    assert info.chosen and info.kind == LAKE and "roc_auc" in info.metrics
    det = detector(s, lake=lake, keep_state=False)
    assert det.model is not None and det.model.version == art.version
    assert detector(s, lake=lake, keep_state=False, use_model=False).model is None
    unchoose(models)
    assert chosen(models) is None


def test_a_feature_table_model_never_reaches_detection(lake: Path, tmp_path: Path) -> None:
    s = _settings(tmp_path)
    models = s.data_dir / "models"
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"msisdn": [f"86138{i:08d}" for i in range(80)],
                          "calls": rng.poisson(5, 80), "label": [0, 1] * 40})
    art, _ = train_table(table, TableSpec(), models, folds=2)
    assert art.kind == TABLE
    # The newest model is a table model: a plain detect runs the rules and does not fail.
    det = detector(s, lake=lake, keep_state=False)
    assert det.model is None
    det.run(START + timedelta(days=2))
    with pytest.raises(InvalidInput, match="feature table"):
        choose(models, art.version)
    with pytest.raises(InvalidInput, match="table model"):
        detector(s, lake=lake, keep_state=False, model_version=art.version)
    with pytest.raises(NotFound, match="no trained lake model"):
        load(models, kind=LAKE)
    assert load(models, kind=TABLE).version == art.version
    with pytest.raises(NotFound, match="m000"):
        choose(models, "m000")
