"""Detection runs on a toy lake: alerts with reasons, one per number, incremental state."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import ibis
import pandas as pd
import pytest
from tests.toy import START, Toy, make_toy

from telshield.detect.features import history_days
from telshield.detect.rules import hit_column, rule_hits
from telshield.domain.alerts import Tier
from telshield.services.alerts import InMemoryAlertSink
from telshield.services.detection import DetectConfig, Detector, life_labels, train_from_lake
from telshield.services.lakeread import FeedReader
from telshield.services.model import load
from telshield.services.rules import backtest, load_rules

from .piecewise import assert_same, piecewise_features


@pytest.fixture(scope="module")
def toy() -> Toy:
    return make_toy(normal=150, couriers=10, fraud=10, days=4)


@pytest.fixture
def lake(toy: Toy, tmp_path: Path) -> Path:
    toy.write(tmp_path / "lake")
    return tmp_path / "lake"


def _detector(lake: Path, state: Path | None = None) -> Detector:
    return Detector(FeedReader(lake), InMemoryAlertSink(), DetectConfig(), load_rules(None),
                    state_path=state)


def test_reader_opens_only_needed_days(lake: Path) -> None:
    r = FeedReader(lake)
    assert len(r.days("calls")) == 4
    files = r.files("calls", datetime(2026, 11, 2, 12), datetime(2026, 11, 4))
    assert [f.parent.name for f in files] == ["day=2026-11-02", "day=2026-11-03"]


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Toy, Path]:
    """A toy whose fraud starts after three quiet days: more than the history that rules reading
    call-backs and new callees ask for (`history_days`)."""
    toy = make_toy(normal=150, couriers=10, fraud=10, days=6, quiet_days=3)
    root = tmp_path_factory.mktemp("quiet") / "lake"
    toy.write(root)
    return toy, root


def test_runs_alert_fraud_not_couriers(quiet: tuple[Toy, Path], tmp_path: Path) -> None:
    toy, lake = quiet
    det = _detector(lake, tmp_path / "state.json")
    for h in range(12, 6 * 24 + 1, 24):
        det.run(START + timedelta(hours=h))
    alerts = det.sink.open_alerts()
    flagged = {a.msisdn for a in alerts}
    assert flagged >= set(toy.fraud)  # every fraud SIM
    assert not flagged & toy.couriers
    a = next(a for a in alerts if a.msisdn in toy.fraud)
    assert a.tier in (Tier.VERIFY, Tier.SUSPEND) and a.reasons
    assert all(r.code.startswith("rule:") for r in a.reasons)
    # The values behind the reasons travel with the alert.
    assert a.features["distinct_callees_7d"] >= 15 and a.features["history_days"] >= 3
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


def test_backtest_counts_hits(quiet: tuple[Toy, Path]) -> None:
    stats = backtest(_detector(quiet[1]), START + timedelta(days=3), START + timedelta(days=6))
    by = {s.name: s for s in stats}
    assert by["strangers_no_callback"].positives == 5  # half the fraud SIMs have clues
    assert by["strangers_no_callback"].recall == 1.0
    assert 0 < by["strangers_no_callback"].precision < 1  # unclued fraud counts against it
    assert by["goip_device"].hits == 10


def test_model_from_clues_gives_reasons(lake: Path, tmp_path: Path) -> None:
    det = _detector(lake)
    art = train_from_lake(det, START, START + timedelta(days=4), tmp_path / "models")
    assert art.meta["positives"] > 0 and art.meta["training_window"][0].startswith("2026-11-01")
    det = replace(det, model=load(tmp_path / "models"))
    assert det.model is not None and det.model.version == art.version
    frame = det.score(det.features(START + timedelta(days=3)))
    alerts = det.alerts(frame, START + timedelta(days=3))
    assert any(r.code.startswith("model:") for a in alerts for r in a.reasons)
    assert all(a.model_version == art.version for a in alerts)


def test_history_days_is_what_the_data_holds(lake: Path) -> None:
    det = _detector(lake)
    first = det.first_call()
    assert first is not None and first.date() == START.date()
    for hours in (12, 50):  # the toy's first call is in the morning of its first day
        until = START + timedelta(hours=hours)
        got = det.features(until)["history_days"].unique()
        assert got.tolist() == [pytest.approx((until - first) / timedelta(days=1))]


def test_history_days_is_capped_by_what_a_run_reads() -> None:
    until = datetime(2026, 11, 20)
    assert history_days(None, until, timedelta(days=14)) == 0.0
    assert history_days(until, until, timedelta(days=14)) == 0.0
    assert history_days(until - timedelta(hours=36), until, timedelta(days=14)) == 1.5
    assert history_days(until - timedelta(days=40), until, timedelta(days=14)) == 14.0


def test_short_history_keeps_history_rules_to_sims_it_has_seen_whole(toy: Toy,
                                                                     lake: Path) -> None:
    # With a day of history every callee is "new" and nobody has had time to call back, so the
    # rules that read call-backs and new callees hold only for SIMs younger than the history.
    det = _detector(lake)
    f = det.features(START + timedelta(hours=60))
    f = f[f["msisdn"].isin(toy.fraud)].drop(
        columns=[c for c in f.columns if c.startswith("hit__") or c == "rule_score"])
    guarded = [r for r in det.rules.rules if "history_days" in r.features]
    assert len(guarded) == 18

    def hits(frame: pd.DataFrame) -> pd.DataFrame:
        got = ibis.duckdb.connect().execute(rule_hits(ibis.memtable(frame), det.rules))
        return got[[hit_column(r) for r in guarded]].astype(bool)

    assert (f["history_days"] >= 2).all()  # 60 h in: enough history, the rules hold
    assert hits(f)[hit_column(det.rules.rule("stationary_strangers"))].sum() >= len(f) - 2
    short = f.assign(history_days=1.0)
    assert not hits(short).any().any()  # every SIM is older than a day: none hits
    young = short.assign(sim_age_days=0.5)  # SIMs whose whole life the day holds
    assert hits(young).equals(hits(f))
    # Rules that need no history see the older SIMs all the same (their GOIP device).
    goip = ibis.duckdb.connect().execute(rule_hits(ibis.memtable(short), det.rules))
    assert goip[hit_column(det.rules.rule("goip_device"))].astype(bool).all()


def test_long_work_reports_progress(quiet: tuple[Toy, Path], lake: Path,
                                    tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []

    def progress(what: str, done: int, total: int) -> None:
        seen.append((what, done, total))

    det = _detector(quiet[1])
    backtest(det, START + timedelta(days=3), START + timedelta(days=5), progress=progress)
    assert [s[1:] for s in seen] == [(0, 2), (1, 2), (2, 2)]
    seen.clear()
    det.run(START + timedelta(days=3), progress=progress)
    assert seen[0][1:] == (0, 4) and seen[-1][1:] == (4, 4)
    seen.clear()
    train_from_lake(_detector(lake), START, START + timedelta(days=4), tmp_path / "models",
                    progress=progress)
    assert seen[0][0].startswith("features at") and seen[-1] == ("saved", 6, 6)


@pytest.mark.parametrize("hours", [12, 60, 84])
def test_one_expression_equals_the_pieces(quiet: tuple[Toy, Path], hours: int,
                                          tmp_path: Path) -> None:
    from telshield.reference.numbering import load_plan_table

    det = replace(_detector(quiet[1]), plan=load_plan_table(tmp_path))
    until = START + timedelta(hours=hours)
    one = det.features(until)
    assert "out_of_province" in one.columns and one["foreign_callers_24h"].notna().all()
    assert_same(one, piecewise_features(det, until))
    since = until - timedelta(hours=6)
    assert_same(det.features(until, since), piecewise_features(det, until, since))


def test_a_number_called_only_from_abroad_joins_the_run(quiet: tuple[Toy, Path],
                                                         tmp_path: Path) -> None:
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from telshield.reference.schemas import FEEDS

    lake = tmp_path / "lake"
    shutil.copytree(quiet[1], lake)
    until = START + timedelta(hours=60)
    at = until - timedelta(hours=3)
    relay = "8613999999999"  # a relay's receiving phone: called from abroad, never calls
    rows = pa.table({
        "call_id": [f"X{i}" for i in range(12)], "started_at": [at] * 12,
        "duration_s": pa.array([40] * 12, pa.int32()),
        "caller": [f"4470000000{i:02d}" for i in range(12)], "callee": [relay] * 12,
        "ingress": ["international"] * 12, "caller_cell": [None] * 12,
        "caller_imei": [None] * 12, "callee_cell": [None] * 12, "ingress_carrier": [None] * 12,
    }, schema=FEEDS["calls"].schema)
    part = next((lake / "calls").glob(f"day={at:%Y-%m-%d}"))
    pq.write_table(rows, part / "abroad.parquet")
    from telshield.reference.numbering import load_plan_table

    det = replace(_detector(lake), plan=load_plan_table(tmp_path))
    one = det.features(until)
    got = one.set_index("msisdn").loc[relay]
    assert got["foreign_callers_24h"] == 12 and pd.isna(got["out_calls_7d"])
    assert_same(one, piecewise_features(det, until))


def test_a_lake_model_learns_the_labels_life_gives_and_scores_probabilities(
    lake: Path, toy: Toy, tmp_path: Path
) -> None:
    """Clues and confirmed disposals are fraud, numbers released on appeal are not, and the
    model's score in detection is its calibrated probability (from the time split: Platt
    scaling, as the toy's validation holds few positives)."""
    from telshield.detect import model as m
    from telshield.detect.tuning import Calibration

    det = _detector(lake)
    end = START + timedelta(days=4)
    clued = sorted({str(c["msisdn"]) for c in toy.feeds["clues"].to_pylist()})
    confirmed = sorted(set(toy.fraud) - set(clued))[:1]
    learnt = train_from_lake(det, START, end, tmp_path / "b", confirmed=set(confirmed),
                             released={clued[0]})
    assert life_labels(det.reader, end) == set(clued)
    assert life_labels(det.reader, end, confirmed=set(confirmed),
                       released={clued[0]}) == set(clued[1:]) | set(confirmed)
    assert life_labels(det.reader, START) == set()  # no clue had arrived yet
    assert learnt.meta["positives"] > 0
    assert learnt.meta["label_counts"] == {"confirmed": 1, "released": 1}
    # The calibration is kept with the model and is what detection scores with.
    cal = Calibration.from_json(learnt.meta["calibration"])
    assert learnt.meta["calibration"]["method"] == cal.method == "platt" and cal.slope > 0
    split = learnt.meta["metrics_time_split"]
    assert split["brier_calibrated"] <= split["brier_raw"]
    assert {"roc_auc", "average_precision"} <= split.keys()
    det = replace(det, model=load(tmp_path / "b"))
    frame = det.features(START + timedelta(days=3))
    scored = det.score(frame)
    assert det.model is not None
    raw = m.predict(det.model.booster, frame)
    assert scored["model_score"].tolist() == pytest.approx(cal(raw).tolist())
