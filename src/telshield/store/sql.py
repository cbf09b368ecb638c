"""The SQL store: transactions, and the unit of work that hands each one's connection to the
repositories. Engines and migrations are in ``engine``, what repositories share in ``rows``;
the repositories (``alerts``, ``audit``, ``cases``, ``lists``, ``offnet``, ``outbox``,
``registrations``, ``users``, ``gangs``, ``dens``, ``bundles``) import neither this module nor
each other."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from telshield.domain.alerts import Alert
from telshield.domain.audit import AuditKey
from telshield.domain.errors import Conflict, Unavailable
from telshield.store.alerts import SqlAlertRepo
from telshield.store.audit import SqlAuditRepo
from telshield.store.backtests import SqlBacktestRepo
from telshield.store.bundles import SqlBundleRepo
from telshield.store.cases import SqlActionRepo, SqlAppealRepo, SqlCaseRepo
from telshield.store.dens import SqlDenRepo
from telshield.store.engine import MIGRATIONS, create_engine, migrate
from telshield.store.gangs import SqlGangRepo
from telshield.store.hotspots import SqlHotspotRepo
from telshield.store.lists import SqlListRepo
from telshield.store.offnet import SqlOffnetRepo
from telshield.store.outbox import SqlOutboxRepo
from telshield.store.police import SqlPoliceRepo
from telshield.store.registrations import SqlRegistrationRepo
from telshield.store.regrisk import SqlOutcomeRepo
from telshield.store.users import SqlUserRepo

__all__ = ["MIGRATIONS", "SqlAlertSink", "SqlStore", "SqlUnitOfWork", "create_engine", "migrate",
           "open_store"]


class SqlStore:
    """The store over one SQLAlchemy engine; ``transaction()`` yields a unit of work."""

    def __init__(self, engine: Engine, *, audit_key: AuditKey | None = None) -> None:
        self.engine = engine
        self.audit_key = audit_key  # links new audit events (None: plain SHA-256)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[SqlUnitOfWork]:
        """Begin a transaction: leaving the block commits it, an exception rolls it back.
        ``write=False`` begins a read that takes no write lock on SQLite."""
        try:
            conn = self.engine.connect()
            if not write:
                conn = conn.execution_options(telshield_read=True)
        except sa.exc.OperationalError as e:
            raise Unavailable(
                f"cannot reach the store: {e.orig}; check the database URL and the server"
            ) from e
        try:
            with conn, conn.begin():
                yield SqlUnitOfWork(conn, self.audit_key)
        except sa.exc.IntegrityError as e:
            raise Conflict(f"the change clashes with stored data: {e.orig}") from e

    def dispose(self) -> None:
        """Close the engine's connections."""
        self.engine.dispose()


class SqlUnitOfWork:
    """Repositories sharing one connection and its transaction; none of them commits."""

    def __init__(self, conn: Connection, audit_key: AuditKey | None = None) -> None:
        self.conn = conn
        self.lists = SqlListRepo(conn)
        self.alerts = SqlAlertRepo(conn)
        self.cases = SqlCaseRepo(conn)
        self.actions = SqlActionRepo(conn)
        self.appeals = SqlAppealRepo(conn)
        self.outbox = SqlOutboxRepo(conn)
        self.offnet = SqlOffnetRepo(conn)
        self.audit = SqlAuditRepo(conn, audit_key)
        self.users = SqlUserRepo(conn)
        self.registrations = SqlRegistrationRepo(conn)
        self.gangs = SqlGangRepo(conn)
        self.hotspots = SqlHotspotRepo(conn)
        self.dens = SqlDenRepo(conn)
        self.outcomes = SqlOutcomeRepo(conn)
        self.police = SqlPoliceRepo(conn)
        self.bundles = SqlBundleRepo(conn)
        self.backtests = SqlBacktestRepo(conn)


def open_store(url: str, *, schema: str = "", upgrade: bool = True,
               audit_key: AuditKey | None = None) -> SqlStore:
    """A SqlStore for ``url``, migrated to the latest schema unless ``upgrade`` is False, that
    links audit events under ``audit_key``."""
    engine = create_engine(url, schema=schema)
    if upgrade:
        migrate(engine)
    return SqlStore(engine, audit_key=audit_key)


class SqlAlertSink:
    """The AlertSink seam over the SQL store, one transaction per batch (no cases opened:
    use the cases service's intake for that)."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def upsert(self, alerts_: Sequence[Alert]) -> None:
        """Open or update each number's alert."""
        with self.store.transaction() as tx:
            tx.alerts.upsert(alerts_)

    def open_alerts(self) -> list[Alert]:
        """The open alert of every number."""
        with self.store.transaction() as tx:
            return tx.alerts.open_alerts()
