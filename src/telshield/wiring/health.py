"""Is the store reachable, and is its schema the one this version of telshield was written for?

What the API's readiness check and ``telshield init`` ask before they trust a store: a server up
on a store it cannot reach, or on one a newer version has migrated past it, must say so rather
than fail on the first real request.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from telshield.domain.errors import Unavailable
from telshield.services.store import Store


def schema_head() -> str:
    """The latest schema revision this version of telshield knows."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from telshield.store.sql import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ",".join(sorted(ScriptDirectory.from_config(cfg).get_heads()))


def schema_revision(store: Store) -> str:
    """The store's schema revision ('' when it was never migrated); Unavailable when the
    store cannot be reached."""
    from alembic.runtime.migration import MigrationContext

    from telshield.store.sql import SqlStore

    if not isinstance(store, SqlStore):
        raise Unavailable(f"cannot tell the schema of a {type(store).__name__}")
    try:
        with store.engine.connect() as conn:
            # A read: on SQLite it must not take the write lock (see store.sql.create_engine).
            conn = conn.execution_options(telshield_read=True)
            heads = MigrationContext.configure(conn).get_current_heads()
    except sa.exc.DBAPIError as e:
        raise Unavailable(f"store unreachable: {e.orig}") from e
    return ",".join(sorted(heads))


def store_check(store: Store) -> Callable[[], str]:
    """A check to call at each readiness probe: it returns the store's schema revision when the
    store is reachable and at this version's head, and raises Unavailable saying what is wrong
    otherwise."""
    head = schema_head()

    def check() -> str:
        current = schema_revision(store)
        if not current:
            raise Unavailable("the store holds no telshield schema: run `telshield init`")
        if current != head:
            raise Unavailable(f"the store's schema is at revision {current}, this version "
                              f"expects {head}: run `telshield init` with the version that "
                              "matches the store")
        return current

    return check
