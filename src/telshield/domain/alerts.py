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
    detected_at: datetime  # wall-clock time of the run (store time, naive UTC)
    window_end: datetime  # the data the run saw ends here (feed time, naive CST)
    model_version: str = ""
    rules_version: str = ""
    features: dict[str, float] = field(default_factory=dict)  # the values behind the reasons

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"alert score must be within 0..1, got {self.score}")

    @property
    def codes(self) -> tuple[str, ...]:
        """The reason codes, sorted (what the alert says, without the values behind it)."""
        return tuple(sorted({r.code for r in self.reasons}))

    def differs_from(self, other: Alert) -> bool:
        """Whether this alert says something ``other`` did not: another tier, score, set of
        reasons or rules/model version. Feature values and run times alone are no change, so a
        detection run done again over the same period changes nothing."""
        return (self.tier, round(self.score, 6), self.codes, self.rules_version,
                self.model_version) != (other.tier, round(other.score, 6), other.codes,
                                        other.rules_version, other.model_version)


@dataclass(frozen=True)
class StoredAlert:
    """An alert with its store id, whether it is its number's open alert, its version (1 + the
    changes it went through) and the data ends of its first and latest sightings."""

    id: int
    alert: Alert
    is_open: bool
    version: int = 1
    first_seen: datetime | None = None  # the data end of the run that first raised it
    last_seen: datetime | None = None  # the data end of the latest run that raised it


@dataclass(frozen=True)
class Upserted:
    """What storing one alert did: its id (stable per open alert), its version, and whether it
    opened or changed (False: the same alert again, e.g. detection re-run over a period)."""

    id: int
    version: int
    changed: bool


@dataclass(frozen=True)
class AlertVersion:
    """One version of an alert, as it stood from a run until the next change."""

    alert_id: int
    version: int
    alert: Alert
