"""``telshield store copy``: a data directory's SQLite store copied whole into an empty store
(SQLite, and PostgreSQL as an operator moves a pilot to production): every row, the audit chain
intact there, and the target usable afterwards (new ids past the copied ones, the chain and the
lists' versions going on from the copied heads)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from tests.conftest import Target, _pg_schema
from typer.testing import CliRunner

from telshield.cli import _register, app, exit_code
from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.cases import Policy
from telshield.domain.errors import Conflict, InvalidInput, TelshieldError, Unavailable
from telshield.services.audit import AuditService
from telshield.services.cases import CaseService
from telshield.services.store import FixedClock
from telshield.settings import Settings, StoreSettings
from telshield.store.copy import row_counts
from telshield.store.sql import SqlStore, open_store
from telshield.wiring import disposal
from telshield.wiring.datadir import copy_store, init_data_dir

T0 = datetime(2026, 3, 1, 9)
NUMBERS = [f"86138000000{i:02d}" for i in range(12)]


def _url(db: Target) -> str:
    # As an operator would write it: a schema other than the search path's goes in the URL.
    return f"{db.url}?options=-csearch_path={db.schema}" if db.schema else db.url


def _store(settings: Settings) -> SqlStore:
    return open_store(settings.store_url)


def _source(tmp_path: Path, url: str = "") -> Settings:
    settings = Settings(data_dir=tmp_path / "pilot", store=StoreSettings(url=url))
    init_data_dir(settings)
    store = _store(settings)
    d = disposal(settings, store=store, clock=FixedClock(T0))
    d.users.add("ann", "analyst", actor="admin")
    for n in NUMBERS[:4]:
        d.lists.add("number", n, "black", source="manual", reason="test", actor="ann")
    why = (Reason("rule:many_strangers", "calls many strangers"),)
    CaseService(store, FixedClock(T0), Policy()).intake(
        [Alert(n, 0.95, Tier.SUSPEND, why, T0, T0) if i % 2 else
         Alert(n, 0.75, Tier.VERIFY, why, T0, T0) for i, n in enumerate(NUMBERS[4:])])
    store.dispose()
    return settings


def test_every_row_is_copied_and_the_target_goes_on(db: Target, tmp_path: Path) -> None:
    settings = _source(tmp_path)
    source = _store(settings)
    before = row_counts(source.engine)
    head = AuditService(source).verify()
    source.dispose()

    done = copy_store(settings, _url(db))
    assert done.rows == before
    assert done.rows["list_entries"] >= 4 and done.rows["cases"] == 8
    assert done.rows["audit_events"] == head.checked > 0
    assert done.chain.ok and done.chain.checked == head.checked

    there = Settings(data_dir=settings.data_dir, store=StoreSettings(url=_url(db)))
    store = _store(there)
    d = disposal(there, store=store, clock=FixedClock(T0))
    try:
        assert row_counts(store.engine) == before
        assert {c.msisdn for c in d.cases.find()} == set(NUMBERS[4:])
        # New rows get fresh ids (PostgreSQL's sequences were moved past the copied ones),
        # and the chain and the list versions go on from the copied heads.
        version = d.lists.current_version()
        entry = d.lists.add("number", NUMBERS[0][:-2] + "99", "black", source="manual",
                            reason="after the copy", actor="ann")
        assert entry.id is not None and entry.id > before["list_entries"]
        assert d.lists.current_version() == version + 1
        assert d.audit.verify().ok and d.audit.verify().checked > head.checked
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_postgresql_store_copies_too(tmp_path: Path) -> None:
    """From PostgreSQL (read in one repeatable-read snapshot) to a SQLite file."""
    with contextmanager(_pg_schema)() as pg:
        settings = _source(tmp_path, _url(pg))
        target = f"sqlite:///{(tmp_path / 'copy.db').as_posix()}"
        source = _store(settings)
        before = row_counts(source.engine)
        source.dispose()
        done = copy_store(settings, target)
        assert done.rows == before and done.rows["cases"] == 8
        assert done.chain.ok and done.chain.checked == before["audit_events"]


def test_a_store_with_rows_is_never_written(db: Target, tmp_path: Path) -> None:
    settings = _source(tmp_path)
    copy_store(settings, _url(db))
    store = _store(Settings(data_dir=settings.data_dir, store=StoreSettings(url=_url(db))))
    counts = row_counts(store.engine)
    with pytest.raises(Conflict, match="not empty"):
        copy_store(settings, _url(db))
    assert row_counts(store.engine) == counts
    store.dispose()


def test_the_own_store_is_refused(tmp_path: Path) -> None:
    settings = _source(tmp_path)
    with pytest.raises(InvalidInput, match="own store"):
        copy_store(settings, settings.store_url)


@pytest.mark.parametrize(("url", "said"), [
    ("postgres.internal/telshield", "is not a database URL: write it as postgresql"),
    ("mysql://telshield@db/telshield", "PostgreSQL or SQLite only"),
])
def test_a_url_that_names_no_store_is_refused(tmp_path: Path, url: str, said: str) -> None:
    with pytest.raises(InvalidInput, match=said):
        copy_store(_source(tmp_path), url)


def test_an_unreachable_target_names_the_option_not_the_password(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="check --to") as e:
        copy_store(_source(tmp_path), "postgresql+psycopg://ann:s3cret-pw@127.0.0.1:1/telshield")
    assert "s3cret-pw" not in str(e.value)


def _invoke(*args: str) -> tuple[int, str]:
    _register()
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if isinstance(r.exception, TelshieldError):  # as `main` maps it
        return exit_code(r.exception), r.output + str(r.exception)
    return r.exit_code, r.output


def test_the_command_copies_and_says_where_to_point(db: Target, tmp_path: Path) -> None:
    settings = _source(tmp_path)
    url = _url(db)
    if db.schema:  # a password in the URL (the test server trusts loopback) is never shown
        user, rest = url.split("://", 1)[1].split("@", 1)
        url = url.split("://", 1)[0] + f"://{user.split(':')[0]}:s3cret-pw@{rest}"
    code, out = _invoke("store", "copy", "--to", url, "--data-dir", str(settings.data_dir))
    assert code == 0, out
    assert "audit chain intact on the target" in out and "TELSHIELD_STORE__URL" in out
    assert "s3cret-pw" not in out
    code, out = _invoke("store", "copy", "--to", url, "--data-dir", str(settings.data_dir))
    assert code != 0 and "not empty" in out and "s3cret-pw" not in out
