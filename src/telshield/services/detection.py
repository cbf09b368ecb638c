"""Detection runs: features from the lake, rules and model, alerts with reasons into a sink.

A run at ``until`` reads only the day partitions its windows (plus the look-back) need and
scores only numbers that placed a call since the previous run (all active numbers on a first
run). State (the previous run's ``until``) lives in a small JSON file.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import structlog

from telshield.detect import model as m
from telshield.detect.colocation import colocation_features
from telshield.detect.devices import device_features
from telshield.detect.features import Window, feature_names, history_days, number_features
from telshield.detect.holders import holder_features, office_features
from telshield.detect.inbound import inbound_features
from telshield.detect.rules import RuleSet, hit_column, rule_hits
from telshield.detect.tuning import Calibration, calibrate
from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.clock import feed_to_store, store_now
from telshield.domain.errors import InvalidInput
from telshield.domain.lists import ListEntry, detection_cap
from telshield.services.alerts import AlertSink
from telshield.services.lakeread import FeedReader
from telshield.services.model import Artefact

log = structlog.get_logger(__name__)

Progress = Callable[[str, int, int], None]  # what is being done, steps done, steps in all


@dataclass(frozen=True)
class DetectConfig:
    """What a detector needs to know: feature windows, look-back, tier thresholds, province.

    Plain values, filled from settings by ``telshield.wiring.detection``.
    """

    windows: tuple[str, ...] = ("1h", "24h", "7d")
    lookback_days: int = 7
    watch: float = 0.5
    verify: float = 0.7
    suspend: float = 0.9
    province: str = "Jiangsu"
    # The model probability from which the model alone raises an alert; 1 (the default)
    # means never: the model then only adds reasons to what the rules found.
    model_alone: float = 1.0

    def model_may_alert_alone(self, score: np.ndarray) -> np.ndarray:
        """Which model scores may stand as an alert's score without any rule behind them."""
        if self.model_alone >= 1.0:  # a probability of exactly 1.0 is still "alone": never
            return np.zeros(len(score), dtype=bool)
        return np.asarray(score >= self.model_alone)


class Whitelist(Protocol):
    """The enterprise whitelist detection is capped by (``ListService`` over the store)."""

    def whitelisted(self, numbers: Collection[str], at: datetime) -> Mapping[str, ListEntry]:
        """The enterprise whitelist entry in force at ``at`` (store time, as list entries'
        expiries are: ``docs/time.md``) for each of ``numbers`` it caps."""
        ...


class InMemoryWhitelist:
    """A fixed set of list entries (for tests and offline runs), under the same law."""

    def __init__(self, entries: Collection[ListEntry]) -> None:
        self.entries = tuple(entries)

    def whitelisted(self, numbers: Collection[str], at: datetime) -> dict[str, ListEntry]:
        """As ``Whitelist.whitelisted``."""
        out: dict[str, ListEntry] = {}
        for n in numbers:
            cap = detection_cap((e for e in self.entries if e.matches_number(n)), at)
            if cap is not None:
                out[n] = cap
        return out


@dataclass(frozen=True)
class RunResult:
    """What one detection run did."""

    until: datetime
    scored: int
    alerts: int
    tiers: dict[str, int]
    days_read: int


@dataclass(frozen=True)
class Detector:
    """Computes features, applies rules and the model, and writes alerts.

    Built whole by ``telshield.wiring.detection``; to run the same detector with another sink
    or model, make a new one (``dataclasses.replace``), never patch this one.
    """

    reader: FeedReader
    sink: AlertSink
    config: DetectConfig
    rules: RuleSet
    model: Artefact | None = None
    state_path: Path | None = None
    # The numbering plan's prefix table (pyarrow, or an Ibis table already on the reader's
    # backend), for out-of-province homes.
    plan: Any = None
    clock: Callable[[], datetime] = store_now  # an alert's detected_at is store time
    # Industry cards and registered telemarketing numbers: held at the watch tier (None: no
    # whitelist, as on a simulated province).
    whitelist: Whitelist | None = None
    _plan_table: ir.Table | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The plan's prefix table, once: every run joins its numbers to it for their homes.
        object.__setattr__(self, "_plan_table",
                           None if self.plan is None else self.plan
                           if isinstance(self.plan, ir.Table) else ibis.memtable(self.plan))
        if self.model is not None:
            missing = [f for f in self.model.features if f not in self.model_features()]
            if missing:
                raise InvalidInput(
                    f"model {self.model.version} reads features this detector does not compute "
                    f"({', '.join(missing[:5])}); it was trained on a feature table or with other "
                    f"windows: train a lake model (`telshield model train --from --to`)")

    @property
    def windows(self) -> list[Window]:
        """The feature windows of the configuration."""
        return [Window.parse(w) for w in self.config.windows]

    def span(self, until: datetime) -> datetime:
        """The earliest time a run at ``until`` reads."""
        longest = max(w.length for w in self.windows)
        return until - longest - timedelta(days=self.config.lookback_days)

    def features(self, until: datetime, active_since: datetime | None = None) -> pd.DataFrame:
        """Features (and rule hits, rule score) of numbers active before ``until``."""
        expr = self.expression(until, active_since, first_call=self.first_call())
        return self.reader.con.execute(expr).reset_index(drop=True)

    def expression(self, until: datetime, active_since: datetime | None = None, *,
                   first_call: datetime | None) -> ir.Table:
        """The whole run as one lazy expression, executed once by whoever calls it: per-caller
        features (with their homes from the numbering plan, joined to the callers only: the homes
        of the whole table would repeat its plan), numbers called from abroad, one-way callers
        sharing a cell, the run's history (a literal: ``first_call`` is read beforehand), and
        the rules over all of them. A number seen only as a callee from abroad has no home
        (``out_of_province`` null), as it has no per-caller features."""
        r = self.reader
        since = self.span(until)
        per_caller = number_features(
            r.table("calls", since, until), until=until, windows=self.windows,
            lookback=timedelta(days=self.config.lookback_days),
            sms=r.table("sms", since, until), subscribers=r.table("subscribers", None, until),
            cells=r.table("cells"), intel=r.table("device_intel"), plan=self._plan_table,
            province=self.config.province, active_since=active_since,
        )
        day = r.table("calls", until - timedelta(hours=24), until)
        # Numbers called from abroad join as well as callers: a relay's receiving phone places
        # no call of its own (its per-caller features stay null).
        inbound = inbound_features(day, until=until, active_since=active_since).rename(
            in_msisdn="msisdn")
        t = per_caller.outer_join(inbound, per_caller.msisdn == inbound.in_msisdn)
        t = t.mutate(msisdn=ibis.coalesce(t.msisdn, t.in_msisdn),
                     foreign_callers_24h=t.foreign_callers_24h.fill_null(0).cast("int64"))
        t = t.drop("in_msisdn")
        coloc = colocation_features(day, until=until).rename(co_msisdn="msisdn")
        t = t.left_join(coloc, t.msisdn == coloc.co_msisdn).drop("co_msisdn")
        longest = max(w.length for w in self.windows)
        dev = device_features(r.table("calls", since, until), until=until,
                              since=until - longest).rename(d_msisdn="msisdn")
        t = t.left_join(dev, t.msisdn == dev.d_msisdn).drop("d_msisdn")
        t = t.mutate(
            cell_one_way_callers_24h=t.cell_one_way_callers_24h.fill_null(0).cast("int64"),
            device_cold_predecessors=t.device_cold_predecessors.fill_null(0).cast("int64"),
            history_days=ibis.literal(history_days(first_call, until, until - since),
                                      type="float64"),
        )
        subs = r.table("subscribers", None, until)
        hold = holder_features(subs, until=until).rename(h_msisdn="msisdn")
        t = t.left_join(hold, t.msisdn == hold.h_msisdn).drop("h_msisdn")
        office = office_features(subs, day, until=until).rename(o_msisdn="msisdn")
        t = t.left_join(office, t.msisdn == office.o_msisdn).drop("o_msisdn")
        t = t.mutate(**{c: t[c].fill_null(0).cast("int64") for c in (
            "holder_enterprise", "id_lines", "id_lines_cell_24h", "cell_old_callers_24h")})
        t = t.mutate(holder_age_days=t.holder_age_days.fill_null(0.0).cast("float64"))
        return rule_hits(t, self.rules)

    def first_call(self) -> datetime | None:
        """When the earliest call the data holds was placed (None: no calls yet). Read on every
        run, from the first day partition only: a backfill of older history counts at once."""
        r = self.reader
        days = r.days("calls")
        first = datetime.combine(days[0], time()) if days else None
        t = r.table("calls", first, first + timedelta(days=1) if first else None)
        got = r.con.execute(t.started_at.min())
        return None if got is None or pd.isna(got) else pd.Timestamp(got).to_pydatetime()

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add ``model_score`` (0 without a model) and the combined ``score``."""
        frame = frame.copy()
        if self.model is not None and len(frame):
            # A lake model's calibration (fitted on its time split) turns its raw score into a
            # probability; an older artefact without one scores raw.
            calibration = Calibration.from_json(self.model.meta.get("calibration"))
            frame["model_score"] = calibration(m.predict(self.model.booster, frame))
        else:
            frame["model_score"] = 0.0
        # The model trains on partial labels (clues): it ranks well, but alone it raises an
        # alert only when the configuration lets it (never, by default); otherwise it adds
        # reasons to what the rules found and never lifts their score.
        alone = self.config.model_may_alert_alone(frame["model_score"].to_numpy())
        model = frame["model_score"].where(alone, 0.0)
        frame["score"] = np.maximum(frame["rule_score"], model).clip(0, 1)
        return frame

    def tier(self, score: float) -> Tier | None:
        """The tier for a score under the thresholds in settings (None below watch)."""
        s = self.config
        if score >= s.suspend:
            return Tier.SUSPEND
        if score >= s.verify:
            return Tier.VERIFY
        return Tier.WATCH if score >= s.watch else None

    def alerts(self, frame: pd.DataFrame, until: datetime) -> list[Alert]:
        """Alerts, with reasons and the feature values behind them, for scores over watch."""
        hot = frame[frame["score"] >= self.config.watch].reset_index(drop=True)
        why = m.reasons(self.model.booster, hot) if self.model is not None and len(hot) else []
        listed, named = self.whitelisted(hot["msisdn"].astype(str).tolist(), until)
        now = self.clock()
        out = []
        for i, row in enumerate(hot.to_dict("records")):
            reasons: list[Reason] = []
            score = float(row["score"])
            entry = listed.get(str(row["msisdn"]))
            if entry is not None:
                score, held = self._whitelist_cap(entry, score, str(row["msisdn"]) in named)
                reasons.append(held)
            for rule in self.rules.rules + self.rules.caps:
                if row[hit_column(rule)]:
                    f0 = rule.features[0]
                    kind = "rule" if rule in self.rules.rules else "cap"
                    reasons.append(Reason(f"{kind}:{rule.name}", rule.explain(row), f0,
                                          _num(row.get(f0)), rule.weight))
            for c in why[i] if why else []:
                reasons.append(Reason(f"model:{c.feature}",
                                      f"{c.feature} = {c.value:g} raised the model's score",
                                      c.feature, _num(c.value), round(c.contribution, 4)))
            used = {r.feature for r in reasons} | {
                f for rule in self.rules.rules + self.rules.caps if row[hit_column(rule)]
                for f in rule.features}
            values = {f: v for f in sorted(used) if (v := _num(row.get(f))) is not None}
            tier = self.tier(score)
            assert tier is not None
            out.append(Alert(
                msisdn=str(row["msisdn"]), score=score, tier=tier,
                reasons=tuple(reasons), detected_at=now, window_end=until,
                model_version=self.model.version if self.model else "",
                rules_version=self.rules.version, features=values,
            ))
        return out

    def whitelisted(self, numbers: list[str], until: datetime
                    ) -> tuple[Mapping[str, ListEntry], set[str]]:
        """The enterprise whitelist entries in force at ``until`` of ``numbers``, and those of
        them a police clue that reached us before ``until`` names."""
        if self.whitelist is None or not numbers:
            return {}, set()
        # ``until`` is feed time (China Standard Time); list expiries are stored in UTC.
        listed = self.whitelist.whitelisted(numbers, feed_to_store(until))
        return listed, clued(self.reader, list(listed), until) if listed else set()

    def _whitelist_cap(self, entry: ListEntry, score: float, clue: bool) -> tuple[float, Reason]:
        """The score of a whitelisted number and the reason that says so: at most the watch
        threshold (watch, never re-verification or restriction), unless a police clue names
        it. The capped score is kept as the reason's value."""
        said = entry.whitelisted_text()
        if clue:
            return score, Reason("whitelist:clue", f"{said}, but a police clue names it: not "
                                 "held at watch", value=round(score, 4))
        held = min(score, self.config.watch)
        text = f"{said}" + (f" (score {score:.2f} held at watch)" if held < score else "")
        return held, Reason("cap:whitelist", text, value=round(score, 4),
                            contribution=self.config.watch)

    def run(self, until: datetime, *, progress: Progress | None = None) -> RunResult:
        """Run once at ``until``: score numbers with new calls, upsert their alerts."""
        say = progress or (lambda _what, _done, _total: None)
        previous = self._last_until()
        active_since = previous if previous is not None and previous < until else None
        say("computing features", 0, 4)
        features = self.features(until, active_since)
        say(f"scoring {len(features):,} numbers", 1, 4)
        frame = self.score(features)
        say("explaining alerts", 2, 4)
        alerts = self.alerts(frame, until)
        say(f"writing {len(alerts):,} alerts", 3, 4)
        self.sink.upsert(alerts)
        say("done", 4, 4)
        days = len({f.parent for f in self.reader.files("calls", self.span(until), until)})
        self._save_state(until)
        tiers = dict(Counter(a.tier.value for a in alerts))
        log.info("detect.run", until=until.isoformat(), scored=len(frame), alerts=len(alerts),
                 tiers=tiers, rules=self.rules.version,
                 model=self.model.version if self.model else None)
        return RunResult(until, len(frame), len(alerts), tiers, days)

    def _last_until(self) -> datetime | None:
        if self.state_path is None or not self.state_path.exists():
            return None
        return datetime.fromisoformat(json.loads(self.state_path.read_text())["last_until"])

    def _save_state(self, until: datetime) -> None:
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"last_until": until.isoformat(),
                                   "rules_version": self.rules.version,
                                   "model_version": self.model.version if self.model else ""}))
        tmp.replace(self.state_path)

    def model_features(self) -> list[str]:
        """The features a model trained for this detector reads."""
        return feature_names(self.windows)


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool | np.bool_):
        return None if v is None else float(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def snapshots(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Run times from ``start + step`` up to and including ``end``."""
    out, t = [], start + step
    while t <= end:
        out.append(t)
        t += step
    return out


def clued(reader: FeedReader, numbers: list[str], until: datetime) -> set[str]:
    """Those of ``numbers`` a police clue that reached us before ``until`` names."""
    clues = reader.table("clues", None, until)
    named = clues.filter(clues.msisdn.isin(numbers)).select("msisdn").distinct()
    return set(reader.con.execute(named)["msisdn"].astype(str))


def clue_labels(reader: FeedReader, until: datetime) -> set[str]:
    """Numbers named by a police clue that reached us before ``until``."""
    clues = reader.table("clues", None, until)
    return set(reader.con.execute(clues.select("msisdn").distinct())["msisdn"].astype(str))


def life_labels(reader: FeedReader, until: datetime, *, confirmed: set[str] | None = None,
                released: set[str] | None = None) -> set[str]:
    """The fraud numbers as life labels them by ``until``: named by a police clue or confirmed
    by disposal, less those released on appeal or re-verification (their holder proved them
    honest, whatever the clue said)."""
    return (clue_labels(reader, until) | (confirmed or set())) - (released or set())


def training_frame(
    detector: Detector, times: list[datetime], positives: set[str], *,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Features at each snapshot time with a 0/1 ``label`` and the ``at`` time."""
    parts = []
    for i, t in enumerate(times):
        if progress:
            progress(f"features at {t:%Y-%m-%d %H:%M}", i, len(times))
        f = detector.features(t)
        f["at"] = t
        parts.append(f)
    frame = pd.concat(parts, ignore_index=True)
    frame["label"] = frame["msisdn"].astype(str).isin(positives).astype(int)
    return frame


def train_from_lake(
    detector: Detector, start: datetime, end: datetime, models_dir: Path, *,
    step: timedelta = timedelta(days=1), confirmed: set[str] | None = None,
    released: set[str] | None = None, progress: Progress | None = None,
) -> Artefact:
    """Train on features over [start, end] labelled by the labels life gives: numbers named by
    police clues and ``confirmed`` by disposal are fraud, except those an appeal or a
    re-verification ``released`` (their holder proved them honest); every other number is not.

    The split is by time: the last quarter of snapshots validates a model trained on the rest,
    and a calibration of that model's validation scores is kept (isotonic with enough positives,
    Platt scaling with fewer, none with one class; its ``method`` is saved with it), so that
    detection reads the score as a probability; the saved model is then trained on all
    snapshots (the calibration fitted on held-out scores serves the model refitted on
    everything, as scikit-learn's ``CalibratedClassifierCV(ensemble=False)`` does). It is saved
    as a "lake" model, not chosen: detection uses it only once ``telshield model choose`` names
    it.
    """
    from telshield.services.model import LAKE, save

    cleared = released or set()
    positives = life_labels(detector.reader, end, confirmed=confirmed, released=cleared)
    times = snapshots(start, end, step)
    if len(times) < 2:
        raise InvalidInput("training needs at least two snapshots; widen the period or the step")
    steps = len(times) + 2  # the snapshots, the validated fit, the final fit
    frame = training_frame(detector, times, positives, progress=progress)
    names = detector.model_features()
    cut = times[max(1, int(len(times) * 0.75)) - 1]
    train, valid = frame[frame["at"] <= cut], frame[frame["at"] > cut]
    if progress:
        progress(f"fitting on snapshots up to {cut:%Y-%m-%d %H:%M}", len(times), steps)
    booster = m.fit(train, train["label"].to_numpy(), names)
    calibration, metrics = _validate(booster, valid)
    if progress:
        progress("fitting on all snapshots", len(times) + 1, steps)
    final = m.fit(frame, frame["label"].to_numpy(), names)
    if progress:
        progress("saved", steps, steps)
    meta = {"kind": LAKE, "source": "lake",
            "labels": "clues + confirmed disposals - released on appeal or re-verification",
            "label_counts": {"confirmed": len(confirmed or ()), "released": len(cleared)},
            "calibration": calibration.to_json(),
            "training_window": [start.isoformat(), end.isoformat()],
            "split_at": cut.isoformat(), "rows": len(frame),
            "positives": int(frame["label"].sum()), "metrics_time_split": metrics,
            "windows": list(detector.config.windows)}
    return save(final, names, meta, models_dir)


def _validate(booster: Any, valid: pd.DataFrame) -> tuple[Calibration, dict[str, float]]:
    """The calibration of ``booster`` on the validation snapshots (``detect.tuning.calibrate``:
    isotonic with enough positives, Platt scaling with fewer, none with one class), and its
    metrics there: raw at 0.5 as before, ROC-AUC and average precision of the raw scores (the
    ranking, which isotonic steps would tie), and the Brier score of raw and calibrated scores
    (no metrics when the validation holds one class only)."""
    y = valid["label"].to_numpy()
    if valid["label"].nunique() != 2:
        return Calibration(), {}
    raw = m.predict(booster, valid)
    calibration = calibrate(y, raw)
    metrics = m.metrics(y, raw)
    metrics["brier_raw"] = float(np.mean((raw - y) ** 2))
    metrics["brier_calibrated"] = float(np.mean((calibration(raw) - y) ** 2))
    return calibration, metrics
