"""Detection runs on a toy lake: alerts with reasons, one per number, incremental state."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from telshield.domain.alerts import Tier
from telshield.evaluate.toy import START, Toy, make_toy
from telshield.services.alerts import InMemoryAlertSink
from telshield.services.detection import Detector, train_from_lake
from telshield.services.lakeread import FeedReader
from telshield.services.model import load
from telshield.services.rules import backtest, load_rules
from telshield.settings import DetectSettings


@pytest.fixture(scope="module")
def toy() -> Toy:
    return make_toy(normal=150, couriers=10, fraud=10, days=4)


@pytest.fixture
def lake(toy: Toy, tmp_path: Path) -> Path:
    toy.write(tmp_path / "lake")
    return tmp_path / "lake"


def _detector(lake: Path, state: Path | None = None) -> Detector:
    return Detector(FeedReader(lake), InMemoryAlertSink(), DetectSettings(), load_rules(None),
                    state_path=state)


def test_reader_opens_only_needed_days(lake: Path) -> None:
    r = FeedReader(lake)
    assert len(r.days("calls")) == 4
    files = r.files("calls", datetime(2026, 11, 2, 12), datetime(2026, 11, 4))
    assert [f.parent.name for f in files] == ["day=2026-11-02", "day=2026-11-03"]


def test_runs_alert_fraud_not_couriers(toy: Toy, lake: Path, tmp_path: Path) -> None:
    det = _detector(lake, tmp_path / "state.json")
    for h in range(12, 4 * 24 + 1, 24):
        det.run(START + timedelta(hours=h))
    alerts = det.sink.open_alerts()
    flagged = {a.msisdn for a in alerts}
    assert flagged >= set(toy.fraud)  # every fraud SIM
    assert not flagged & toy.couriers
    a = next(a for a in alerts if a.msisdn in toy.fraud)
    assert a.tier in (Tier.VERIFY, Tier.SUSPEND) and a.reasons
    assert all(r.code.startswith("rule:") for r in a.reasons)
    # The values behind the reasons travel with the alert.
    assert a.features["distinct_callees_24h"] >= 15
    # One open alert per number; later runs add versions to its history.
    assert len(alerts) == len(flagged)
    sink = det.sink
    assert isinstance(sink, InMemoryAlertSink)
    assert any(len(v) > 1 for v in sink.history.values())


def test_incremental_run_scores_only_new_callers(lake: Path, tmp_path: Path) -> None:
    det = _detector(lake, tmp_path / "state.json")
    first = det.run(START + timedelta(days=3))
    again = det.run(START + timedelta(days=3, minutes=1))
    assert first.scored > 100
    assert again.scored < first.scored / 10
    assert first.days_read == 3  # 7 d window + 7 d look-back, but only 3 days exist so far


def test_backtest_counts_hits(lake: Path) -> None:
    stats = backtest(_detector(lake), START + timedelta(days=1), START + timedelta(days=4))
    by = {s.name: s for s in stats}
    assert by["strangers_no_callback"].positives == 5  # half the fraud SIMs have clues
    assert by["strangers_no_callback"].recall == 1.0
    assert 0 < by["strangers_no_callback"].precision < 1  # unclued fraud counts against it
    assert by["goip_device"].hits == 10


def test_model_from_clues_gives_reasons(lake: Path, tmp_path: Path) -> None:
    det = _detector(lake)
    art = train_from_lake(det, START, START + timedelta(days=4), tmp_path / "models")
    assert art.meta["positives"] > 0 and art.meta["training_window"][0].startswith("2026-11-01")
    det.model = load(tmp_path / "models")
    assert det.model.version == art.version
    frame = det.score(det.features(START + timedelta(days=3)))
    alerts = det.alerts(frame, START + timedelta(days=3))
    assert any(r.code.startswith("model:") for a in alerts for r in a.reasons)
    assert all(a.model_version == art.version for a in alerts)
