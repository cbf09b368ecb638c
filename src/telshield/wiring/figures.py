"""Composition of the period figures (``services.figures``): the store, the numbering plan, and
the screened calls read from the screening faces' decision log (JSON lines, one file per
rotation; DuckDB reads them where they lie).

The decision log holds every blocked, labelled or warned call; allowed calls only when
``screening.log_allowed`` is on. Without it, "screened" counts the calls screening acted on, and
a route's interception rate is that of the known fraud numbers' calls it acted on: the page and
``docs/web.md`` say so.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir

from telshield.domain.clock import store_epoch
from telshield.services.figures import SCREENED, Figures, ScreenedCalls
from telshield.services.store import Clock, Store
from telshield.settings import Settings

_COLUMNS = {"at": "DOUBLE", "caller": "VARCHAR", "callee": "VARCHAR", "ingress": "VARCHAR",
            "outcome": "VARCHAR"}


def decision_calls(directory: Path) -> ScreenedCalls:
    """The screened calls of a period, read from the decision log files in ``directory``."""

    def read(start: datetime, end: datetime) -> ir.Table:
        files = log_files(directory)
        if not files:
            return ibis.memtable(SCREENED.to_pyarrow().empty_table())
        con = ibis.duckdb.connect()  # one per read: the pages' threads share no connection
        t = con.read_json(files, format="newline_delimited", columns=_COLUMNS,
                          ignore_errors=True)
        t = t.select(*SCREENED.names).cast(SCREENED)
        return t.filter((t.at >= store_epoch(start)) & (t.at < store_epoch(end)))

    return read


def log_files(directory: Path) -> list[str]:
    """The decision log's files (a rotation adds one: the overview's calls are read anew)."""
    return sorted(str(p) for p in directory.glob("decisions-*.jsonl")) \
        if directory.is_dir() else []


def figures(settings: Settings, store: Store, clock: Clock, *, max_age_s: float = 0.0,
            background: bool = False) -> Figures:
    """The period figures over ``store`` and the settings' decision log and numbering plan
    (the screened calls kept ``max_age_s`` between reads: the overview's page views)."""
    from telshield.reference.numbering import load_plan_table
    from telshield.wiring.screening import log_dir

    plan: list[ir.Table] = []

    def plan_table() -> ir.Table:
        if not plan:  # built (or read from its cache) on first use, then kept
            plan.append(ibis.memtable(load_plan_table(settings.data_dir)))
        return plan[0]

    folder = log_dir(settings)
    return Figures(store, clock, calls=decision_calls(folder), plan=plan_table,
                   province=settings.detect.province, max_age_s=max_age_s,
                   version=lambda: tuple(log_files(folder)), background=background)
