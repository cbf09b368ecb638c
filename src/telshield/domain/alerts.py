"""Alerts: a number's fraud score, its tier and the reasons behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Tier(StrEnum):
    """How strongly a number is suspected; the disposal policy maps a tier to an action."""

    WATCH = "watch"
    VERIFY = "verify"
    SUSPEND = "suspend"  # suspension recommended

    @property
    def rank(self) -> int:
        """Order of severity: watch < verify < suspend."""
        return {"watch": 0, "verify": 1, "suspend": 2}[self.value]


@dataclass(frozen=True)
class Reason:
    """One reason for an alert: a code, a text for people, and the evidence behind it."""

    code: str  # e.g. "rule:many_strangers" or "model:callback_share"
    text: str
    feature: str = ""
    value: float | None = None
    contribution: float | None = None  # SHAP contribution or rule weight


@dataclass(frozen=True)
class Alert:
    """A fraud alert on one number from one detection run."""

    msisdn: str
    score: float  # 0..1
    tier: Tier
    reasons: tuple[Reason, ...]
    detected_at: datetime  # wall-clock time of the run
    window_end: datetime  # the data the run saw ends here
    model_version: str = ""
    rules_version: str = ""
    features: dict[str, float] = field(default_factory=dict)  # the values behind the reasons

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"alert score must be within 0..1, got {self.score}")


@dataclass(frozen=True)
class StoredAlert:
    """An alert with its store id and whether it is its number's open alert."""

    id: int
    alert: Alert
    is_open: bool
