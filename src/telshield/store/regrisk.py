"""The numbers the platform later found bad, read for the channel / staff / terminal risk
ranking: alerted (any alert, open or closed), clued by the police (a police-ordered block on the
number, which every clue becomes), confirmed fraud (a case closed as confirmed)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.cases import CaseStatus
from telshield.domain.lists import Colour, Source, TargetKind
from telshield.domain.regrisk import FraudNumbers
from telshield.store.tables import alerts, cases, list_entries


class SqlOutcomeRepo:
    """OutcomeRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _set(self, q: sa.Select[tuple[str]]) -> frozenset[str]:
        return frozenset(str(m) for (m,) in self.conn.execute(q.distinct()))

    def fraud_numbers(self) -> FraudNumbers:
        """Every number alerted, clued or confirmed, ever (removed list entries included: a
        block lifted later was still a clue)."""
        e = list_entries
        return FraudNumbers(
            alerted=self._set(sa.select(alerts.c.msisdn)),
            clued=self._set(sa.select(e.c.value).where(
                e.c.kind == TargetKind.NUMBER.value, e.c.colour == Colour.BLACK.value,
                e.c.source == Source.POLICE.value, e.c.police_ordered.is_(True))),
            confirmed=self._set(sa.select(cases.c.msisdn).where(
                cases.c.status == CaseStatus.CONFIRMED.value)),
        )
