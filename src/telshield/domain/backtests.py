"""A rules backtest's figures as stored: the last backtest of each rules version, shown beside
the rules in force (``telshield rules backtest`` records it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class BacktestRow:
    """How one rule (or the whole set, named '* ...') did: numbers hit, how many of them
    labelled fraud, and the labelled fraud numbers active in the period."""

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


@dataclass(frozen=True)
class Backtest:
    """One backtest run of a rules version over a period."""

    rules_version: str
    start: datetime
    end: datetime
    step: str
    label_lag: str
    actor: str
    at: datetime
    rows: tuple[BacktestRow, ...]
    id: int | None = None
