"""The whole-system replay: route classes against truth, the store -> snapshot adapter, the
judging arithmetic, and a few simulated hours of a tiny province end to end (and via the CLI)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import ibis
import numpy as np
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from telshield.cli.replay import replay_cmd
from telshield.domain.cases import Policy
from telshield.domain.errors import InvalidInput
from telshield.domain.paging import Page
from telshield.evaluate.replay_judge import LABEL, REJECT, WARN, judge, meets_bar
from telshield.evaluate.replay_routes import BARRED, ROUTES, route_classes
from telshield.evaluate.replay_run import (
    ReplayOptions,
    cadence_hours,
    load_ported,
    replay_settings,
    run_replay,
    work_dir,
)
from telshield.reference.numbering import load_plan_table
from telshield.services.cases import CaseService
from telshield.services.store import FixedClock
from telshield.settings import Settings, load_settings
from telshield.store.sql import open_store
from telshield.world.config import load_config
from telshield.world.generate import generate

START = "2026-10-05 00:00:00"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four days of a tiny province, with dens raised so that it has fraud on every route."""
    base = tmp_path_factory.mktemp("replay")
    (base / "w.toml").write_text("[dens]\nper_100k = 40\n")
    cfg = load_config(base / "w.toml", subscribers=2000, days=4, start=START)
    generate(cfg, 3, base / "world")
    return base / "world"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(data_dir=tmp_path_factory.mktemp("data"))


def test_route_classes_agree_with_truth(world: Path, settings: Settings) -> None:
    calls = pq.read_table(world / "calls").to_pandas()
    truth = pq.read_table(world / "truth" / "calls.parquet").to_pandas()
    df = calls.merge(truth, on="call_id", validate="one_to_one")
    ported = load_ported(world)
    assert ported is not None and ported.num_rows > 0  # ported numbers are classified too
    got = route_classes(df["caller"], df["callee"], df["ingress"],
                        load_plan_table(settings.data_dir), ibis.duckdb.connect(),
                        ported=ported)
    assert set(got) <= set(ROUTES)
    assert set(df["route"]) == set(ROUTES)  # the tiny province has every class
    agree = got == df["route"].to_numpy()
    assert agree.mean() >= 0.999, df[~agree][["caller", "callee", "ingress", "route"]].head()


@pytest.mark.parametrize(
    ("outcomes", "intercepted", "warned", "legit_blocked", "minutes"),
    [
        ([0, 0, 0, 0], 0, 0, 0, float("nan")),
        ([0, REJECT, REJECT, 0], 2, 0, 0, 2.0),
        ([LABEL, WARN, REJECT, REJECT], 1, 2, 1, 3.0),
    ],
)
def test_judge_arithmetic(outcomes: list[int], intercepted: int, warned: int,
                          legit_blocked: int, minutes: float) -> None:
    # Three calls of fraud number 1 on one route at minutes 10, 12 and 13, one legitimate call.
    route = np.array(["inter_network"] * 4, dtype=object)
    fraud = np.array([True, True, True, False])
    caller = np.array([1, 1, 1, 2], dtype=np.int64)
    at = np.array([600, 720, 780, 800], dtype=np.int64)
    alerted = np.array([False, True, True, False])  # number 1 was alerted on after its first call
    r = {x.route: x for x in judge(route, fraud, caller, at, np.array(outcomes, np.int8),
                                   alerted)}
    net = r["inter_network"]
    assert net.before_alert == 1
    assert (net.fraud_calls, net.intercepted, net.warned) == (3, intercepted, warned)
    assert (net.legit_calls, net.legit_blocked) == (1, legit_blocked)
    assert net.fraud_numbers == 1 and net.fraud_numbers_blocked == int(intercepted > 0)
    assert net.median_minutes_to_block == pytest.approx(minutes, nan_ok=True)
    total = r["+".join(BARRED)]
    assert total.fraud_calls == 3 and r["local"].fraud_calls == 0
    assert meets_bar(list(r.values())) is (intercepted == 3 and legit_blocked == 0)


def test_replay_end_to_end(world: Path, settings: Settings) -> None:
    # Three days of history (detection in shadow mode, calls not judged), then a day judged:
    # the rules that read call-backs and new callees ask for two days (`history_days`).
    hours, warmup = 4 * 24, 72
    r = run_replay(settings, world, work_dir(settings, world),
                   ReplayOptions(detect_every=8, warmup_hours=warmup))
    calls = pq.read_table(world / "calls", columns=["started_at"]).to_pandas()
    judged = int((calls["started_at"] >= datetime(2026, 10, 5) + timedelta(hours=warmup)).sum())
    by = {x.route: x for x in r.routes}
    assert sum(by[x].fraud_calls + by[x].legit_calls for x in ROUTES) == judged
    assert r.hours == hours and r.detection_runs == 12 and r.route_agreement >= 0.999
    assert r.alerts > 0 and sum(r.cases.values()) > 0  # detection fed the disposal workflow
    assert by["+".join(BARRED)].fraud_calls > 0
    assert by["international"].intercepted == by["international"].fraud_calls  # spoofed IDs
    legit = sum(by[x].legit_calls for x in ROUTES)
    assert sum(by[x].legit_blocked for x in ROUTES) <= 0.001 * legit
    # Something was intercepted beyond the spoof rules: the lists moved during the replay (our
    # own numbers are warned through their cases, those we do not hold through list entries).
    assert set(r.reasons) & {"warning:suspend", "warning:verify", "warning:watch", "list:black",
                             "list:grey"}
    # The device-class rule fed from device_intel bars the dens' GOIP / SIM-bank calls.
    assert r.reasons.get("device:goip", 0) + r.reasons.get("device:simbank", 0) > 0


def test_replay_command(world: Path, settings: Settings) -> None:
    app = typer.Typer()
    app.command()(replay_cmd)
    out = settings.data_dir / "outcomes.parquet"
    res = CliRunner().invoke(app, ["--world", str(world), "--hours", "2", "--warmup-hours", "1",
                                   "--outcomes", str(out), "--data-dir", str(settings.data_dir)])
    assert res.exit_code == 0, res.output
    assert "interception by route" in res.output and "agree with truth" in res.output
    assert "bar (" in res.output and "period figures" in res.output
    assert "detection every 1 h" in res.output  # the platform's cadence (cycle.detect_every)
    rows = pq.read_table(out).to_pandas()
    assert set(rows["outcome"]) <= {"allow", "label", "warn_callee", "reject"}
    start = datetime(2026, 10, 5)
    assert (rows["judged"] == (rows["started_at"] >= start + timedelta(hours=1))).all()
    assert rows["started_at"].max() < start + timedelta(hours=2)


@pytest.mark.parametrize(("every", "hours"), [("1h", 1), ("3h", 3), ("1d", 24), ("120m", 2)])
def test_the_replay_detects_at_the_platforms_cadence(tmp_path: Path, every: str, hours: int
                                                     ) -> None:
    s = load_settings(data_dir=tmp_path)
    s = s.model_copy(update={"cycle": s.cycle.model_copy(update={"detect_every": every})})
    assert cadence_hours(s) == hours
    # The replay's own cycle runs at that cadence unless the option says otherwise.
    assert replay_settings(s, tmp_path, ReplayOptions()).cycle.detect_every == f"{hours}h"
    assert replay_settings(s, tmp_path, ReplayOptions(detect_every=5)).cycle.detect_every == "5h"


@pytest.mark.parametrize("every", ["30m", "90m", "soon"])
def test_a_cadence_the_hourly_replay_cannot_run_is_refused(tmp_path: Path, every: str) -> None:
    s = load_settings(data_dir=tmp_path)
    with pytest.raises(InvalidInput, match=r"cycle\.detect_every"):
        cadence_hours(s.model_copy(update={
            "cycle": s.cycle.model_copy(update={"detect_every": every})}))


def test_warmup_runs_detection_in_shadow_and_judges_after(world: Path, settings: Settings
                                                          ) -> None:
    r = run_replay(settings, world, work_dir(settings, world),
                   ReplayOptions(detect_every=5, hours=13, warmup_hours=6))
    calls = pq.read_table(world / "calls", columns=["started_at"]).to_pandas()["started_at"]
    live = int(((calls >= datetime(2026, 10, 5, 6)) & (calls < datetime(2026, 10, 5, 13))).sum())
    by = {x.route: x for x in r.routes}
    assert sum(by[x].fraud_calls + by[x].legit_calls for x in ROUTES) == live
    assert r.period[0] == datetime(2026, 10, 5, 6) and r.detection_runs == 3
    # The period figures (the overview's and the police report's query over the replay's store
    # and judged calls) count the judged calls as the route table does.
    assert r.figures is not None and r.figures.screened == live
    f = {x.route: x for x in r.figures.routes}
    for x in r.routes:
        assert (x.fraud_calls, x.intercepted, x.warned, x.legit_calls, x.legit_blocked) == (
            f[x.route].fraud_calls, f[x.route].intercepted, f[x.route].warned,
            f[x.route].legit_calls, f[x.route].legit_blocked)
    assert r.figures.start == datetime(2026, 10, 4, 22)  # 06:00 CST in store time
    # The 05:00 run was a shadow run: every alert in the store came from a live run.
    store = open_store(f"sqlite:///{(work_dir(settings, world) / 'store.db').as_posix()}")
    d = CaseService(store, FixedClock(datetime(2026, 10, 5, 13)), Policy())
    ends = {s.alert.window_end for s in d.alerts(page=Page(10_000))}
    store.dispose()
    assert ends and min(ends) >= datetime(2026, 10, 5, 10)


def test_a_handlers_cover_calls_are_not_judged(tmp_path: Path) -> None:
    """The crew's handler calling its SIM is neither a fraud call nor a legitimate one: a
    replay that bars the SIM from calls from abroad must not count it as a legitimate call
    blocked. Its SIM's calls and a victim's call back stay judged."""
    import pandas as pd

    from telshield.evaluate.replay_run import load_calls

    (tmp_path / "calls").mkdir()
    (tmp_path / "truth").mkdir()
    at = pd.to_datetime(["2026-10-05 10:00", "2026-10-05 10:05", "2026-10-05 10:10"])
    pd.DataFrame({"call_id": ["1", "2", "3"], "started_at": at,
                  "caller": ["85291234567", "8613800000001", "8613900000002"],
                  "callee": ["8613800000001", "8613900000002", "8613800000001"],
                  "ingress": ["international", "radio", "radio"],
                  "caller_imei": [None, None, None]}).to_parquet(tmp_path / "calls" / "p.parquet")
    pd.DataFrame({"call_id": ["1", "2", "3"], "is_fraud": [False, True, False],
                  "route": ["international", "local", "local"]}).to_parquet(
        tmp_path / "truth" / "calls.parquet")
    pd.DataFrame({"msisdn": ["85291234567", "8613800000001", "8613900000002"],
                  "role": ["handler", "fraud_sim", "normal"]}).to_parquet(
        tmp_path / "truth" / "numbers.parquet")
    calls = load_calls(tmp_path).set_index("call_id")
    assert calls["crew"].to_dict() == {"1": True, "2": False, "3": False}
