"""Where detection runs put their alerts. The store implements this seam; tests use memory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from telshield.domain.alerts import Alert


class AlertSink(Protocol):
    """Keeps one open alert per number; a newer alert for the same number updates it."""

    def upsert(self, alerts: Sequence[Alert]) -> None:
        """Open or update the alert of each number (history is kept by the implementation)."""
        ...

    def open_alerts(self) -> list[Alert]:
        """The open alert of every number that has one."""
        ...


class InMemoryAlertSink:
    """An AlertSink in memory, keeping every version of each number's alert."""

    def __init__(self) -> None:
        self.history: dict[str, list[Alert]] = {}

    def upsert(self, alerts: Sequence[Alert]) -> None:
        """Open or update the alert of each number."""
        for a in alerts:
            self.history.setdefault(a.msisdn, []).append(a)

    def open_alerts(self) -> list[Alert]:
        """The latest alert of every number."""
        return [versions[-1] for versions in self.history.values()]

    def extend(self, alerts: Iterable[Alert]) -> None:
        """Add alerts (a convenience for tests)."""
        self.upsert(list(alerts))
