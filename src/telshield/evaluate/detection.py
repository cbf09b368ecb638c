"""Early warning judged against the simulator's truth.

Detection is replayed over the simulated period (a run every ``step``, each incremental), the
model (if any) trained first on police clues from the first days only. Each number's first alert
is compared with its truth: precision, recall within 24 h of the first fraud call, F1, ROC-AUC of
the best score, recall per fraud role, the share alerted of every honest role present
(couriers, sales lines, telemarketing offices, travellers abroad, ...), and the median hours
from first fraud call to alert; the same again for alerts at verify or above (``verify``).

With a model, the same replay also judges three ways of alerting side by side (``variants``):
the rules alone (the rule score), the model alone (its calibrated probability through the same
tier thresholds) and both (the higher of the two, the model let to alert on its own from the
watch threshold), so that the model is put to alerting only where it beats the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import structlog

from telshield.domain.alerts import Tier
from telshield.domain.errors import InvalidInput
from telshield.services.alerts import InMemoryAlertSink
from telshield.services.detection import Detector, Progress, snapshots, train_from_lake

log = structlog.get_logger(__name__)

FRAUD_ROLES = ("fraud_sim", "den_sim", "trafficked_card", "offnet_fraud")
NOT_JUDGED = ("spoofed", "handler")  # a spoofed caller-ID: screening's business; a crew's
# handler (off our network) is an accomplice, but no number a detector is asked to find
HARD_NEGATIVES = ("courier", "sales", "customer_service", "taxi", "real_estate", "promoter",
                  "telemarketing", "collection", "enterprise_line", "iot", "relay",
                  "offnet_courier", "offnet_sales", "abroad_traveller", "new_sim", "traveller",
                  "phone_changer", "visitor", "sanctioned", "normal")
DEADLINE = timedelta(hours=24)
VARIANTS = ("rules", "model", "both")


@dataclass
class DetectionReport:
    """The numbers ``telshield evaluate detection`` prints."""

    period: tuple[datetime, datetime]
    runs: int
    scored: int
    alerted: int
    positives: int
    precision: float
    recall_24h: float
    f1: float
    roc_auc: float
    recall_by_role: dict[str, tuple[int, int]] = field(default_factory=dict)  # caught, of
    recall_by_scenario: dict[str, tuple[int, int]] = field(default_factory=dict)
    fp_rate_hard: dict[str, tuple[int, int]] = field(default_factory=dict)  # alerted, of active
    median_hours_to_alert: float = float("nan")
    model_version: str = ""
    rules_version: str = ""
    verify: DetectionReport | None = None  # the same judged on alerts at verify or above
    # With a model: rules alone, model alone, both (each with its ``verify``).
    variants: dict[str, DetectionReport] = field(default_factory=dict)


def read_truth(world: Path) -> pd.DataFrame:
    """The simulator's per-number truth (role, scenario, first fraud call)."""
    path = world / "truth" / "numbers.parquet"
    if not path.exists():
        raise InvalidInput(f"{path} not found: give the folder `telshield world generate` wrote")
    truth = pd.read_parquet(path)
    truth["msisdn"] = truth["msisdn"].astype(str)
    return truth.drop_duplicates("msisdn", keep="first").set_index("msisdn")


def calls_period(det: Detector) -> tuple[datetime, datetime]:
    """First and last call time in the feeds."""
    calls = det.reader.table("calls")
    row = det.reader.con.execute(
        calls.aggregate(lo=calls.started_at.min(), hi=calls.started_at.max())
    ).iloc[0]
    if pd.isna(row["lo"]):
        raise InvalidInput("the calls feed is empty: nothing to evaluate")
    return pd.Timestamp(row["lo"]).to_pydatetime(), pd.Timestamp(row["hi"]).to_pydatetime()


def replay(det: Detector, start: datetime, end: datetime, step: timedelta, *,
           progress: Progress | None = None) -> pd.DataFrame:
    """Run detection every ``step`` over (start, end]; per number: first alert and best score."""
    first_alert: dict[str, datetime] = {}
    first_verify: dict[str, datetime] = {}
    best: dict[str, float] = {}
    # Per variant (with a model): best score, first time at watch, first time at verify.
    seen: dict[str, tuple[dict[str, float], dict[str, datetime], dict[str, datetime]]] = {
        v: ({}, {}, {}) for v in (VARIANTS if det.model is not None else ())}
    times = snapshots(start, end + step, step)
    for i, t in enumerate(times):
        if progress:
            progress(f"detecting at {t:%Y-%m-%d %H:%M}", i, len(times))
        previous = t - step
        frame = det.score(det.features(t, active_since=previous))
        for num, score in zip(frame["msisdn"].astype(str), frame["score"], strict=True):
            best[num] = max(best.get(num, 0.0), float(score))
        alerts = det.alerts(frame, t)
        det.sink.upsert(alerts)
        for a in alerts:
            first_alert.setdefault(a.msisdn, t)
            if a.tier.rank >= Tier.VERIFY.rank:
                first_verify.setdefault(a.msisdn, t)
        for v, (v_best, v_alert, v_verify) in seen.items():
            _track(det, frame, _variant_score(frame, v), t, v_best, v_alert, v_verify)
    if progress:
        progress("judging", len(times), len(times))
    out = pd.DataFrame({"best_score": pd.Series(best, dtype="float64")})
    out["first_alert"] = pd.Series(first_alert, dtype="datetime64[us]")
    out["first_verify"] = pd.Series(first_verify, dtype="datetime64[us]")
    for v, (v_best, v_alert, v_verify) in seen.items():
        out[f"best_score_{v}"] = pd.Series(v_best, dtype="float64")
        out[f"first_alert_{v}"] = pd.Series(v_alert, dtype="datetime64[us]")
        out[f"first_verify_{v}"] = pd.Series(v_verify, dtype="datetime64[us]")
    out.attrs["runs"] = len(times)
    return out


def _variant_score(frame: pd.DataFrame, variant: str) -> pd.Series:
    """The score one way of alerting gives each number of a scored frame."""
    if variant == "rules":
        return frame["rule_score"].astype("float64")
    if variant == "model":
        return frame["model_score"].astype("float64")
    return np.maximum(frame["rule_score"], frame["model_score"]).astype("float64")


def _track(det: Detector, frame: pd.DataFrame, score: pd.Series, at: datetime,
           best: dict[str, float], alert: dict[str, datetime], verify: dict[str, datetime]
           ) -> None:
    """Keep each number's best ``score`` and the first run it reached watch and verify."""
    c = det.config
    for num, sc in zip(frame["msisdn"].astype(str), score, strict=True):
        best[num] = max(best.get(num, 0.0), float(sc))
        if sc >= c.watch:
            alert.setdefault(num, at)
        if sc >= c.verify:
            verify.setdefault(num, at)


def judge(
    scored: pd.DataFrame, truth: pd.DataFrame, start: datetime, end: datetime, runs: int
) -> DetectionReport:
    """Compare replayed alerts with truth."""
    from sklearn.metrics import roc_auc_score

    t = truth.reindex(scored.index)
    role = t["role"].fillna("normal").astype(str)
    judged = ~role.isin(NOT_JUDGED)
    fraud = role.isin(FRAUD_ROLES)
    alerted = scored["first_alert"].notna()
    first_fraud = pd.to_datetime(t["first_fraud_call_at"])
    # Positives: fraud numbers whose first fraud call falls where the replay could see 24 h.
    pos = fraud & first_fraud.notna() & (first_fraud >= start) & (first_fraud <= end - DEADLINE)
    delay = (scored["first_alert"] - first_fraud).dt.total_seconds() / 3600.0
    caught = pos & alerted & (delay <= DEADLINE.total_seconds() / 3600.0)
    # An alert before the first fraud call (trafficked cards: suspicious before use) counts.
    n_alert = int((alerted & judged).sum())
    precision = float((alerted & judged & fraud).sum() / n_alert) if n_alert else 0.0
    recall = float(caught.sum() / pos.sum()) if pos.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    y = fraud[judged].astype(int).to_numpy()
    auc = float(roc_auc_score(y, scored.loc[judged, "best_score"])) if len(set(y)) == 2 \
        else float("nan")
    by_role = {r: (int((caught & (role == r)).sum()), int((pos & (role == r)).sum()))
               for r in FRAUD_ROLES}
    scenario = t["scenario"].fillna("none").astype(str) if "scenario" in t else role
    by_scenario = {s: (int((caught & (scenario == s)).sum()), int((pos & (scenario == s)).sum()))
                   for s in sorted(set(scenario[pos]))}
    hard = {r: (int((alerted & (role == r)).sum()), int((role == r).sum()))
            for r in HARD_NEGATIVES if r in HARD_NEGATIVES[:3] or (role == r).any()}
    hours = delay[pos & alerted].clip(lower=0)
    return DetectionReport(
        period=(start, end), runs=runs, scored=len(scored), alerted=int(alerted.sum()),
        positives=int(pos.sum()), precision=precision, recall_24h=recall, f1=f1, roc_auc=auc,
        recall_by_role=by_role, recall_by_scenario=by_scenario, fp_rate_hard=hard,
        median_hours_to_alert=float(np.median(hours)) if len(hours) else float("nan"),
    )


def evaluate_detection(
    det: Detector, world: Path, *, step: timedelta = timedelta(hours=6),
    train_days: int = 0, warmup_days: int = 7, models_dir: Path | None = None,
    progress: Progress | None = None,
) -> DetectionReport:
    """Train on the first ``train_days`` (clues only) if asked, replay the rest, judge it.

    The first ``warmup_days`` are history only: an installation starts detecting on a lake
    that holds at least its longest window, as features like "callees never called before"
    and "share of calls outgoing" mean little over a few hours of data.
    """
    truth = read_truth(world)
    lo, hi = calls_period(det)
    first = datetime.combine(lo.date(), datetime.min.time())
    start = first + timedelta(days=max(train_days, warmup_days))
    if start >= hi - DEADLINE:
        raise InvalidInput(f"the feeds span {first:%Y-%m-%d} .. {hi:%Y-%m-%d}: too short for "
                           f"{max(train_days, warmup_days)} days of warm-up plus a judged day")
    # The replay keeps its alerts to itself and its runs stateless: a detector of its own.
    det = replace(det, sink=InMemoryAlertSink(), state_path=None)
    if train_days > 0:
        if models_dir is None:
            raise InvalidInput("training during evaluation needs a models folder")
        # Trained on the first days' clues and judged on the rest: the evaluation is the judging
        # that choosing a model asks for, so this one model scores here without being chosen.
        model = train_from_lake(det, first, first + timedelta(days=train_days), models_dir,
                                progress=progress)
        det = replace(det, model=model)
    scored = replay(det, start, hi, step, progress=progress)
    report = judge(scored, truth, start, hi, int(scored.attrs["runs"]))
    report.verify = judge(scored.assign(first_alert=scored["first_verify"]), truth, start, hi,
                          int(scored.attrs["runs"]))
    for v in VARIANTS if det.model is not None else ():
        view = scored.assign(best_score=scored[f"best_score_{v}"],
                             first_alert=scored[f"first_alert_{v}"])
        report.variants[v] = judge(view, truth, start, hi, int(scored.attrs["runs"]))
        report.variants[v].verify = judge(view.assign(first_alert=scored[f"first_verify_{v}"]),
                                          truth, start, hi, int(scored.attrs["runs"]))
    report.model_version = det.model.version if det.model else ""
    report.rules_version = det.rules.version
    log.info("evaluate.detection", precision=report.precision, recall=report.recall_24h,
             positives=report.positives, alerted=report.alerted)
    return report
