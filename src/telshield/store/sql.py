"""The SQL store: engine set-up (SQLite WAL or PostgreSQL), migrations, transactions."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
import structlog
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

from telshield.domain.errors import Conflict, Unavailable

log = structlog.get_logger(__name__)
T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"


def naive_utc(at: datetime | None) -> datetime | None:
    """A time as the store keeps it: UTC without a zone (aware times are converted)."""
    if at is None or at.tzinfo is None:
        return at
    return at.astimezone(UTC).replace(tzinfo=None)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size`` (keeps IN-lists under driver limits)."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _processor(type_: Any, dialect: Any) -> Any:
    proc = type_.dialect_impl(dialect).bind_processor(dialect)
    if proc is not None and isinstance(type_, sa.DateTime):
        # A bulk stamps most rows with the same few times: convert each time once.
        return functools.lru_cache(maxsize=4096)(proc)
    return proc


def fast_executemany(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Run ``stmt`` once per row through the driver's own executemany: the statement is
    compiled once and values converted by the column types, without SQLAlchemy's per-row work
    (several times faster for the hundreds of thousands of rows of a bulk disposal)."""
    if not rows:
        return
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect, column_keys=list(rows[0]))
    procs = {name: _processor(b.type, dialect) for name, b in compiled.binds.items()}
    names = list(compiled.positiontup or ()) if compiled.positional else list(procs)
    conv = [(n, procs[n]) for n in names]
    params: list[Any]
    if compiled.positional:
        params = [tuple(p(r[n]) if p else r[n] for n, p in conv) for r in rows]
    else:
        params = [{n: (p(r[n]) if p else r[n]) for n, p in conv} for r in rows]
    conn.exec_driver_sql(compiled.string, params)


def create_engine(url: str, *, schema: str = "") -> Engine:
    """An engine for ``url``: SQLite in WAL mode with writers serialised, or PostgreSQL."""
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Take the write lock up front: no deadlock when a reader turns writer.
            read = conn.get_execution_options().get("telshield_read", False)
            conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

        return engine
    connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def migrate(engine: Engine) -> None:
    """Bring the database schema up to the latest migration."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except sa.exc.OperationalError as e:
        raise Unavailable(
            f"cannot reach the store at {engine.url!r}: {e.orig}; check TELSHIELD_STORE__URL "
            "and that the database is running"
        ) from e
    log.info("store.migrated", url=engine.url.render_as_string(hide_password=True))


class SqlStore:
    """The store over one SQLAlchemy engine; ``transaction()`` yields a unit of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
                yield SqlUnitOfWork(conn)
        except sa.exc.IntegrityError as e:
            raise Conflict(f"the change clashes with stored data: {e.orig}") from e

    def dispose(self) -> None:
        """Close the engine's connections."""
        self.engine.dispose()


class SqlUnitOfWork:
    """Repositories sharing one connection and its transaction; none of them commits."""

    def __init__(self, conn: Connection) -> None:
        from telshield.store.alerts import SqlAlertRepo
        from telshield.store.audit import SqlAuditRepo
        from telshield.store.cases import SqlActionRepo, SqlAppealRepo, SqlCaseRepo
        from telshield.store.lists import SqlListRepo
        from telshield.store.offnet import SqlOffnetRepo
        from telshield.store.outbox import SqlOutboxRepo
        from telshield.store.users import SqlUserRepo

        self.conn = conn
        self.lists = SqlListRepo(conn)
        self.alerts = SqlAlertRepo(conn)
        self.cases = SqlCaseRepo(conn)
        self.actions = SqlActionRepo(conn)
        self.appeals = SqlAppealRepo(conn)
        self.outbox = SqlOutboxRepo(conn)
        self.offnet = SqlOffnetRepo(conn)
        self.audit = SqlAuditRepo(conn)
        self.users = SqlUserRepo(conn)


def open_store(url: str, *, schema: str = "", upgrade: bool = True) -> SqlStore:
    """A SqlStore for ``url``, migrated to the latest schema unless ``upgrade`` is False."""
    engine = create_engine(url, schema=schema)
    if upgrade:
        migrate(engine)
    return SqlStore(engine)
