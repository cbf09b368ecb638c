"""Rules use cases: load the analyst's rules file and backtest it against labels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path

import pandas as pd

from telshield.detect.inbound import detection_feature_names
from telshield.detect.rules import RuleSet, hit_column, parse_rules
from telshield.domain.audit import AuditEvent
from telshield.domain.backtests import Backtest, BacktestRow
from telshield.domain.errors import InvalidInput
from telshield.services.detection import Detector, Progress, clue_labels, snapshots
from telshield.services.store import Store


def load_rules(path: Path | None, windows_features: list[str] | None = None) -> RuleSet:
    """The rules in ``path``, or the shipped defaults when ``path`` is None."""
    known = windows_features if windows_features is not None else detection_feature_names()
    if path is None:
        text = resources.files("telshield.detect").joinpath("default_rules.toml").read_text()
        return parse_rules(text, known, source="default_rules.toml")
    if not path.exists():
        raise InvalidInput(f"rules file {path} does not exist")
    return parse_rules(path.read_text(encoding="utf-8"), known, source=str(path))


@dataclass(frozen=True)
class RuleStats:
    """How one rule (or the whole set, name '*') did in a backtest."""

    name: str
    hits: int
    true_hits: int
    positives: int

    @property
    def precision(self) -> float:
        """Share of hit numbers that are labelled fraud."""
        return self.true_hits / self.hits if self.hits else 0.0

    @property
    def recall(self) -> float:
        """Share of labelled fraud numbers the rule hit."""
        return self.true_hits / self.positives if self.positives else 0.0


def backtest_frame(frames: list[pd.DataFrame], rules: RuleSet, positives: set[str],
                   watch: float) -> list[RuleStats]:
    """Per rule: numbers hit at any snapshot, how many are labelled fraud, and all positives."""
    frame = pd.concat(frames, ignore_index=True)
    frame["msisdn"] = frame["msisdn"].astype(str)
    active = set(frame["msisdn"])
    pos = positives & active
    out = []
    for r in rules.rules:
        hit = set(frame.loc[frame[hit_column(r)].astype(bool), "msisdn"])
        out.append(RuleStats(r.name, len(hit), len(hit & pos), len(pos)))
    hit = set(frame.loc[frame["rule_score"] >= watch, "msisdn"])
    out.append(RuleStats("* (score >= watch)", len(hit), len(hit & pos), len(pos)))
    return out


def label_lag_end(end: datetime, lag: timedelta) -> datetime:
    """Labels are read up to ``end + lag``: clues arrive after the calls they are about."""
    return end + lag


def backtest(detector: Detector, start: datetime, end: datetime, *,
             step: timedelta = timedelta(days=1), label_lag: timedelta = timedelta(days=7),
             labels: set[str] | None = None, progress: Progress | None = None,
             ) -> list[RuleStats]:
    """Each rule's hits, precision and recall over [start, end] against clue labels.

    Labels are the numbers named by clues up to ``end + label_lag`` (plus ``labels``).
    """
    times = snapshots(start, end, step)
    if not times:
        raise InvalidInput(f"backtest period {start} .. {end} holds no {step} step; widen it")
    positives = clue_labels(detector.reader, label_lag_end(end, label_lag)) | (labels or set())
    frames = []
    for i, t in enumerate(times):
        if progress:
            progress(f"features at {t:%Y-%m-%d %H:%M}", i, len(times))
        frames.append(detector.features(t))
    if progress:
        progress("done", len(times), len(times))
    return backtest_frame(frames, detector.rules, positives, detector.config.watch)


def record_backtest(store: Store, rules_version: str, stats: list[RuleStats], *,
                    start: datetime, end: datetime, step: str, label_lag: str, actor: str,
                    at: datetime) -> Backtest:
    """Keep a backtest's figures in the store (the rules page shows the last one of each
    rules version), with an audit event naming who ran it."""
    b = Backtest(rules_version=rules_version, start=start, end=end, step=step,
                 label_lag=label_lag, actor=actor, at=at,
                 rows=tuple(BacktestRow(s.name, s.hits, s.true_hits, s.positives)
                            for s in stats))
    with store.transaction() as tx:
        saved = tx.backtests.add(b)
        tx.audit.append([AuditEvent(actor=actor, action="rules.backtest",
                                    subject=f"rules:{rules_version}", at=at,
                                    detail={"from": f"{start:%Y-%m-%d %H:%M}",
                                            "to": f"{end:%Y-%m-%d %H:%M}",
                                            "rules": len(stats)})])
    return saved


def last_backtests(store: Store, rules_versions: list[str]) -> dict[str, Backtest]:
    """The last stored backtest of each rules version that has one."""
    with store.transaction(write=False) as tx:
        return tx.backtests.latest(rules_versions)
