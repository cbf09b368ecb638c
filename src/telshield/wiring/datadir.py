"""The data directory: refuse one that holds no store, create one only when told to.

A mistyped ``--data-dir`` used to create a new, empty store and show empty tables as if the
operator's cases had vanished. Commands now refuse a data directory without a store, naming the
folder; ``telshield init`` (or ``--init`` on the commands that may start a new one) creates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from telshield.domain.audit import ChainReport
from telshield.domain.errors import InvalidInput, NotFound
from telshield.settings import Settings
from telshield.wiring.health import schema_revision

if TYPE_CHECKING:
    from telshield.store.sql import SqlStore

DB_FILE = "telshield.db"  # the SQLite store in the data directory (Settings.store_url)


def require_data_dir(settings: Settings, *, can_init: bool = False) -> None:
    """NotFound, naming the folder and what to do, unless the data directory holds a store
    (the SQLite file, or, when the store is elsewhere, an existing folder and a migrated
    store)."""
    d = settings.data_dir
    fix = ("check --data-dir (or TELSHIELD_DATA_DIR); to start a new data directory there, "
           + ("pass --init or " if can_init else "") + f"run `telshield init --data-dir {d}`")
    if not settings.store.url:
        if not (d / DB_FILE).is_file():
            what = "does not exist" if not d.exists() else f"holds no store ({DB_FILE})"
            raise NotFound(f"data directory {d} {what}: {fix}")
        return
    if not d.is_dir():
        raise NotFound(f"data directory {d} does not exist: {fix}")
    store = _open(settings)
    try:
        if not schema_revision(store):
            raise NotFound(f"the store at {_shown_url(settings)} holds no telshield schema: "
                           f"run `telshield init --data-dir {d}`")
    finally:
        store.dispose()


@dataclass(frozen=True)
class Initialised:
    """What ``init_data_dir`` found and did."""

    data_dir: str
    store: str
    created: bool
    revision: str


def init_data_dir(settings: Settings) -> Initialised:
    """Create the data directory (lake, quarantine) and its store, or bring an existing store's
    schema up to this version's head; idempotent."""
    before = _revision_or_blank(settings)
    for folder in (settings.data_dir, settings.lake_dir, settings.quarantine_dir):
        folder.mkdir(parents=True, exist_ok=True)
    store = _open(settings, upgrade=True)  # creates and migrates
    try:
        revision = schema_revision(store)
    finally:
        store.dispose()
    return Initialised(data_dir=str(settings.data_dir), store=_shown_url(settings),
                       created=not before, revision=revision)


@dataclass(frozen=True)
class StoreCopy:
    """What ``copy_store`` copied, and what it found on the target afterwards."""

    source: str  # URLs as shown: without passwords
    target: str
    revision: str
    rows: dict[str, int]  # copied, per table
    chain: ChainReport  # the audit chain re-hashed on the target


def copy_store(settings: Settings, url: str) -> StoreCopy:
    """Copy the data directory's store into the empty store at ``url``, migrated here to this
    version's schema first; then count every table on the target and re-hash the audit chain
    there under the installation's keys. InvalidInput for a URL that names no SQLite or
    PostgreSQL database, or this store itself, or when the source is at another schema
    revision (run ``telshield init`` first); Unavailable when the target cannot be reached;
    Conflict when it holds rows."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from telshield.domain.errors import Conflict, Unavailable
    from telshield.services.audit import AuditService
    from telshield.store.copy import copy_rows, row_counts
    from telshield.store.sql import open_store
    from telshield.wiring.security import audit_keys

    require_data_dir(settings)
    try:
        target_url = make_url(url)
    except ArgumentError:
        raise InvalidInput(f"--to {url!r} is not a database URL: write it as "
                           "postgresql+psycopg://USER@HOST:PORT/DB or sqlite:///PATH") from None
    shown = target_url.render_as_string(hide_password=True)
    if target_url.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidInput(f"--to {shown}: the store runs on PostgreSQL or SQLite only")
    if target_url == make_url(settings.store_url):
        raise InvalidInput(f"the target {shown} is this data directory's own store: name "
                           "another database")
    source = _open(settings)
    try:
        target = open_store(url)  # creates the schema's tables: migrated to head
    except Unavailable as e:
        source.dispose()
        cause = getattr(e.__cause__, "orig", e.__cause__)
        raise Unavailable(f"cannot reach the target {shown}: {cause}; check --to and that the "
                          "database is running") from None
    try:
        here, there = schema_revision(source), schema_revision(target)
        if here != there:
            raise InvalidInput(f"the store is at schema revision {here} and this version's is "
                               f"{there}: run `telshield init --data-dir {settings.data_dir}` "
                               "first, then copy")
        rows = copy_rows(source.engine, target.engine)
        counted = row_counts(target.engine)
        if counted != rows:  # something else wrote there meanwhile
            bad = {t: (rows[t], counted.get(t)) for t in rows if counted.get(t) != rows[t]}
            raise Conflict(f"the target's row counts (copied, found) differ: {bad}; keep "
                           "every other process off the target, empty it and copy again")
        chain = AuditService(target, audit_keys(settings)).verify()
    finally:
        source.dispose()
        target.dispose()
    return StoreCopy(source=_shown_url(settings), target=shown, revision=here, rows=rows,
                     chain=chain)


def _open(settings: Settings, *, upgrade: bool = False) -> SqlStore:
    from telshield.store.sql import open_store

    return open_store(settings.store_url, upgrade=upgrade)


def _revision_or_blank(settings: Settings) -> str:
    if not settings.store.url and not (settings.data_dir / DB_FILE).is_file():
        return ""
    store = _open(settings)
    try:
        return schema_revision(store)
    finally:
        store.dispose()


def _shown_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.store_url).render_as_string(hide_password=True)
