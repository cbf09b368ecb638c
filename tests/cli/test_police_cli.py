"""The operator's police commands as a person runs them: register a unit and its officer, then
a unit's query is prepared by one person, refused to the same person's approval, approved by
another, written out as JSON + HTML with its SHA-256, verified; a request answered in time is
not escalated."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from typer.testing import CliRunner

from telshield.domain.users import User
from telshield.settings import Settings
from telshield.wiring import open_store
from telshield.wiring.police import police


def test_units_officers_and_maker_checker_from_the_command_line(tmp_path: Path) -> None:
    from telshield.cli import _register, app

    _register()
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]

    def ok(*args: str) -> str:
        r = runner.invoke(app, [*args, *data])
        assert r.exit_code == 0, r.output
        return r.output

    ok("init")
    ok("users", "unit-add", "NJ-FZ", "--name", "Nanjing anti-fraud centre")
    assert "Nanjing anti-fraud centre" in ok("users", "units")
    ok("users", "add", "cop", "--role", "police", "--unit", "NJ-FZ")
    settings = Settings(data_dir=tmp_path)
    svc = police(settings, open_store(settings))
    with svc.store.transaction(write=False) as tx:
        cop: User = tx.users.by_name("cop")
    q = svc.submit(cop, kind="query", target_kind="number", target="8613800000001", action="",
                   legal_doc="L-1", case_ref="NJ-1", reason="fake police call")
    rid = str(q.id)
    assert "NJ-1" in ok("police", "queue", "--status", "submitted")
    ok("police", "prepare", rid, "--actor", "ann")
    refused = runner.invoke(app, ["police", "approve", rid, "--actor", "ann", *data])
    assert refused.exit_code != 0 and "maker-checker" in str(refused.exception)
    digest = ok("police", "approve", rid, "--actor", "bob").split()[-1]
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    out = tmp_path / "out"
    assert ok("police", "package", rid, "--out", str(out), "--actor", "bob").split()[-1] \
        == digest
    body = (out / f"request-{rid}.json").read_bytes()
    assert hashlib.sha256(body).hexdigest() == digest
    assert digest in (out / f"request-{rid}.html").read_text(encoding="utf-8")
    assert "intact" in ok("police", "verify", rid)
    assert "0 request(s) escalated" in ok("police", "escalate")  # answered within its SLA
