"""Rules backtests in SQL: one row per run, its rules' figures as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.backtests import Backtest, BacktestRow
from telshield.store.rows import naive_utc
from telshield.store.tables import rule_backtests

T = rule_backtests


def _backtest(r: Any) -> Backtest:
    return Backtest(
        rules_version=r.rules_version,
        start=r.start,
        end=r.end,
        step=r.step,
        label_lag=r.label_lag,
        actor=r.actor,
        at=r.at,
        id=int(r.id),
        rows=tuple(
            BacktestRow(str(x["name"]), int(x["hits"]), int(x["true_hits"]), int(x["positives"]))
            for x in r.rows
        ),
    )


class SqlBacktestRepo:
    """BacktestRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, b: Backtest) -> Backtest:
        """Store a backtest run; return it with its id."""
        rows = [
            {"name": x.name, "hits": x.hits, "true_hits": x.true_hits, "positives": x.positives}
            for x in b.rows
        ]
        new = self.conn.execute(
            sa.insert(T)
            .returning(T.c.id)
            .values(
                rules_version=b.rules_version,
                start=naive_utc(b.start),
                end=naive_utc(b.end),
                step=b.step,
                label_lag=b.label_lag,
                actor=b.actor,
                at=naive_utc(b.at),
                rows=rows,
            )
        ).scalar_one()
        return Backtest(**{**b.__dict__, "id": int(new)})

    def latest(self, rules_versions: Sequence[str]) -> dict[str, Backtest]:
        """The last backtest of each of ``rules_versions`` that has one."""
        if not rules_versions:
            return {}
        last = (
            sa.select(sa.func.max(T.c.id))
            .where(T.c.rules_version.in_(list(rules_versions)))
            .group_by(T.c.rules_version)
        )
        q = sa.select(T).where(T.c.id.in_(last))
        return {str(r.rules_version): _backtest(r) for r in self.conn.execute(q)}
