"""The keyed audit chain (issue 15): a rewrite re-hashed without the installation secret is
found; keys rotate with an overlap; the head is anchored outside the store by checkpoints; the
placeholder secret is refused where it would matter."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from tests.conftest import Target
from typer.testing import CliRunner

from telshield.cli import _register, app
from telshield.domain.audit import GENESIS, AuditEvent, AuditKey, chain, link, verify
from telshield.domain.errors import InvalidInput
from telshield.services.audit import AuditService, verify_checkpoints, write_checkpoint
from telshield.settings import Settings
from telshield.store.sql import SqlStore, open_store
from telshield.store.tables import audit_events, heads
from telshield.wiring.security import audit_key, audit_keys, refuse_placeholder

T0 = datetime(2026, 3, 1, 9)
OLD, NEW = AuditKey.from_secret("old-secret-0123456789"), AuditKey.from_secret("new-secret-987")


def _events(n: int, start: int = 0) -> list[AuditEvent]:
    return [AuditEvent("alice", "case.verify", f"case:{i}", T0 + timedelta(seconds=i), {"i": i})
            for i in range(start, start + n)]


def test_the_key_is_derived_and_its_id_reveals_nothing() -> None:
    assert OLD.kid != NEW.kid and len(OLD.kid) == 8
    assert OLD.key != b"old-secret-0123456789" and "old-secret" not in repr(OLD)
    assert AuditKey.from_secret("old-secret-0123456789") == OLD  # stable across restarts


def test_a_keyed_chain_verifies_only_with_its_key() -> None:
    linked = chain(0, GENESIS, _events(5), NEW)
    assert verify(linked, (5, linked[-1].hash), [NEW]).keyed == {NEW.kid: 5}
    without = verify(linked, (5, linked[-1].hash), [OLD])
    assert not without.ok and without.seq == 1 and "any key of the ring" in without.problem


def test_a_rewrite_rehashed_without_the_key_is_found() -> None:
    linked = chain(0, GENESIS, _events(6), NEW)
    # Mallory edits event 4 and re-hashes it and the rest with plain SHA-256, moving the head.
    forged = linked[:3] + chain(3, linked[2].hash, [
        AuditEvent("mallory", e.event.action, e.event.subject, e.event.at, e.event.detail)
        for e in linked[3:]])
    r = verify(forged, (6, forged[-1].hash), [NEW])
    assert not r.ok and r.seq == 4 and "without the key" in r.problem
    # The same with a key she guessed wrong.
    guessed = linked[:3] + chain(3, linked[2].hash, [e.event for e in linked[3:]],
                                 AuditKey.from_secret("change-me-per-installation"))
    assert verify(guessed, (6, guessed[-1].hash), [NEW]).seq == 4


def test_rotation_and_an_unkeyed_past() -> None:
    plain = chain(0, GENESIS, _events(2))  # written before the installation had a secret
    old = chain(2, plain[-1].hash, _events(3, 2), OLD)
    new = chain(5, old[-1].hash, _events(2, 5), NEW)
    events = plain + old + new
    r = verify(events, (7, new[-1].hash), [NEW, OLD])
    assert r.ok and r.unkeyed == 2 and r.keyed == {OLD.kid: 3, NEW.kid: 2}
    # Dropping the old secret from the ring before its events age out breaks verification.
    assert verify(events, (7, new[-1].hash), [NEW]).seq == 3
    assert link(GENESIS, 1, _events(1)[0], "{}") == hashlib.sha256(
        (GENESIS + '|1|["alice","case.verify","case:0","2026-03-01T09:00:00"]|{}').encode()
    ).hexdigest()  # the unkeyed form is the one stores written before keying hold


def _keyed_store(db: Target, key: AuditKey) -> SqlStore:
    return open_store(db.url, schema=db.schema, audit_key=key)


def test_the_store_links_under_its_key_and_checkpoints_anchor_the_head(
        db: Target, tmp_path: Path) -> None:
    store = _keyed_store(db, NEW)
    service = AuditService(store, [NEW])
    with store.transaction() as tx:
        tx.audit.append(_events(4))
    assert service.verify().keyed == {NEW.kid: 4}
    path = tmp_path / "anchor" / "checkpoints.jsonl"
    first = write_checkpoint(service, path, T0)
    assert first["seq"] == 4 and first["kid"] == NEW.kid
    with store.transaction() as tx:
        tx.audit.append(_events(2, 4))
    write_checkpoint(service, path, T0 + timedelta(hours=1))
    assert verify_checkpoints(service, path).ok and verify_checkpoints(service, path).checked == 2

    # Someone holding the key rewrites event 3 on and re-links everything after it: the chain
    # verifies, the checkpoints do not.
    with store.engine.begin() as c:
        c.execute(sa.delete(audit_events).where(audit_events.c.seq >= 3))
        c.execute(sa.update(heads).where(heads.c.name == "audit").values(
            n=2, hash=c.execute(sa.select(audit_events.c.hash).where(
                audit_events.c.seq == 2)).scalar_one()))
    with store.transaction() as tx:
        tx.audit.append([AuditEvent("mallory", "case.release", "case:2", T0, {}), *_events(3, 3)])
    assert service.verify().ok
    bad = verify_checkpoints(service, path)
    assert not bad.ok and bad.line == 1 and "rewritten" in bad.problem

    # Cutting the tail below a checkpoint is found; so is an edited checkpoint line.
    lines = path.read_text().splitlines()
    edited = json.loads(lines[0]) | {"seq": 1}
    path.write_text(json.dumps(edited) + "\n")
    assert "edited" in verify_checkpoints(service, path).problem
    store.dispose()


def test_no_checkpoint_without_a_key(store: SqlStore, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="TELSHIELD_SECRET"):
        write_checkpoint(AuditService(store), tmp_path / "c.jsonl", T0)


def test_the_placeholder_secret_is_refused_unless_allowed(tmp_path: Path) -> None:
    shipped = Settings(data_dir=tmp_path)
    assert audit_key(shipped) is None and audit_keys(shipped) == ()
    with pytest.raises(InvalidInput, match="placeholder installation secret"):
        refuse_placeholder(shipped, "serve the API")
    refuse_placeholder(shipped.model_copy(update={"allow_placeholder_secret": True}), "serve")
    real = Settings(data_dir=tmp_path, secret=SecretStr("s" * 40),
                    secret_previous=[SecretStr("old-secret-0123456789")])
    refuse_placeholder(real, "serve the API")
    assert audit_keys(real) == (AuditKey.from_secret("s" * 40), OLD)


def test_cli_verify_and_checkpoint_under_a_real_secret(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    if not any(g.name == "audit" for g in app.registered_groups):
        _register()
    monkeypatch.setenv("TELSHIELD_SECRET", "a-real-installation-secret-0123456789")
    run = CliRunner().invoke
    dd = ["--data-dir", str(tmp_path)]
    assert run(app, ["users", "add", "root", "--role", "admin", "--init", *dd]).exit_code == 0
    r = run(app, ["audit", "checkpoint", *dd])
    assert r.exit_code == 0 and "checkpoint: event 1 under key" in r.output
    r = run(app, ["audit", "verify", *dd])
    assert r.exit_code == 0, r.output
    assert "1 under key" in r.output and "checkpoints: 1 held" in r.output
    # The same store read with another secret: the chain no longer verifies.
    monkeypatch.setenv("TELSHIELD_SECRET", "somebody-elses-secret-0123456789")
    r = run(app, ["audit", "verify", *dd])
    assert r.exit_code == 1 and "BROKEN" in r.output
    # Serving on the placeholder is refused.
    monkeypatch.delenv("TELSHIELD_SECRET")
    r = run(app, ["serve", *dd])
    assert r.exit_code != 0 and isinstance(r.exception, InvalidInput)
    assert "placeholder installation secret" in str(r.exception)
