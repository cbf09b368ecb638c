"""`telshield audit verify` over a real store: intact, then edited, then a deleted event."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from telshield.cli import _register, app
from telshield.store.sql import open_store
from telshield.store.tables import audit_events


def test_audit_verify_command_says_where(tmp_path: Path) -> None:
    if not any(g.name == "audit" for g in app.registered_groups):
        _register()  # the CLI's sub-commands, once per process
    run = CliRunner().invoke
    dd = ["--data-dir", str(tmp_path)]
    assert run(app, ["users", "add", "root", "--role", "admin", "--init", *dd]).exit_code == 0
    csv = tmp_path / "l.csv"
    csv.write_text("kind,value,colour,reason\nnumber,8613800000001,black,fraud\n"
                   "number,8613800000002,white,vip\nnumber,bad,black,x\n")
    r = run(app, ["lists", "import", str(csv), *dd])
    assert r.exit_code == 2 and "line" in r.output  # one bad row reported
    den = tmp_path / "den.txt"
    den.write_text("8613951000001\n8613951000002\n")
    r = run(app, ["cases", "bulk", "suspend", "--numbers", str(den), "--reason", "den", *dd])
    assert r.exit_code == 0, r.output
    r = run(app, ["audit", "verify", *dd])
    assert r.exit_code == 0 and "4 event(s)" in r.output

    store = open_store(f"sqlite:///{tmp_path / 'telshield.db'}")
    seq3 = audit_events.c.seq == 3
    with store.engine.begin() as c:
        actor = c.execute(sa.select(audit_events.c.actor).where(seq3)).scalar_one()
        c.execute(sa.update(audit_events).where(seq3).values(actor="mallory"))
    r = run(app, ["audit", "verify", *dd])
    assert r.exit_code == 1 and "event 3" in r.output and "edited" in r.output
    with store.engine.begin() as c:
        c.execute(sa.update(audit_events).where(seq3).values(actor=actor))
    assert run(app, ["audit", "verify", *dd]).exit_code == 0  # restored: intact again
    with store.engine.begin() as c:
        c.execute(sa.delete(audit_events).where(audit_events.c.seq == 2))
    r = run(app, ["audit", "verify", *dd])
    assert r.exit_code == 1 and "deleted" in r.output
    store.dispose()
