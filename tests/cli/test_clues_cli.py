"""`telshield clues bundles` end to end on a data directory holding the gang lake and a clue:
propose on demand, list, show, confirm a member (a case opened), and a second decision refused
(Conflict, exit code 4)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tests.services.feeds import write_feed
from tests.services.ganglake import write
from typer.testing import CliRunner

from telshield.domain.errors import Conflict, InvalidInput


def test_propose_list_show_confirm_and_refuse_a_second_decision(tmp_path: Path) -> None:
    from telshield.cli import _register, app, exit_code

    data = tmp_path / "data"
    _register()
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--data-dir", str(data)]).exit_code == 0
    lk = write(data / "lake")
    write_feed(data / "lake", "clues", [
        {"clue_id": "CL-7", "reported_at": datetime(2026, 10, 28, 9), "msisdn": lk.gang_a[0],
         "case_ref": "JS-7", "fraud_type": "loan", "unit": "NJ"}])
    d = ["--data-dir", str(data)]
    r = runner.invoke(app, ["clues", "bundles", "propose", "CL-7", "--actor", "ann", *d])
    assert r.exit_code == 0, r.output
    assert "clue CL-7" in r.output and lk.gang_a[1] in r.output
    r = runner.invoke(app, ["clues", "bundles", "list", "--status", "proposed", *d])
    assert r.exit_code == 0 and "CL-7" in r.output, r.output
    r = runner.invoke(app, ["clues", "bundles", "confirm", "1", "--reason", "ID-mate",
                            "--member", lk.gang_a[1], "--actor", "ann", *d])
    assert r.exit_code == 0, r.output
    assert "1 number(s) confirmed" in r.output and "1 new cases" in r.output
    r = runner.invoke(app, ["clues", "bundles", "show", "1", *d])
    assert "confirmed" in r.output and "ann" in r.output
    r = runner.invoke(app, ["clues", "bundles", "reject", "1", "--reason", "no", *d])
    assert isinstance(r.exception, Conflict) and exit_code(r.exception) == 4  # decided once
    r = runner.invoke(app, ["clues", "bundles", "list", "--status", "maybe", *d])
    assert isinstance(r.exception, InvalidInput) and "unknown bundle status" in str(r.exception)
