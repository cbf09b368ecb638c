"""The screen commands as an operator runs them (in process, through Typer's runner)."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner, Result

from telshield.cli import screen
from telshield.domain.errors import InvalidInput


def run(*args: str, data: Path) -> Result:
    app = typer.Typer()
    screen.register(app)
    return CliRunner().invoke(app, ["screen", *args, "--data-dir", str(data)],
                              env={"COLUMNS": "200"})


def test_build_then_decide_with_the_full_numbering_plan(tmp_path: Path) -> None:
    data = tmp_path / "d"
    lists = tmp_path / "lists.csv"
    lists.write_text("number,colour,police_ordered\n8613800000002,black,\n"
                     "+8613800000003,white,\n8613800000003,black,true\n")
    warnings = tmp_path / "warnings.csv"
    warnings.write_text("number,tier\n8618600000006,verify\n")
    r = run("build", "--lists", str(lists), "--warnings", str(warnings), data=data)
    assert r.exit_code == 0, r.output
    assert "3 numbers" in r.output
    cases = [
        (("8613800000003", "8613900000001"), "reject  reasons=list:police"),
        (("8614012345678", "8613900000001"), "spoof:unallocated"),  # from the compiled plan
        (("8618600000006", "8613900000001", "--ingress", "radio"),
         "reject  reasons=warning:verify"),
        (("85291234567", "8613900000001", "--ingress", "international"), "allow"),
    ]
    for args, expected in cases:
        r = run("decide", *args, data=data)
        assert r.exit_code == 0, r.output
        assert expected in r.output, (args, r.output)


def test_bad_input_is_invalid_input(tmp_path: Path) -> None:
    bad = tmp_path / "lists.csv"
    bad.write_text("number,colour\n8613800000002,purple\n")
    r = run("build", "--lists", str(bad), data=tmp_path / "d")
    assert isinstance(r.exception, InvalidInput) and "purple" in str(r.exception)
    r = run("decide", "8613800000002", "8613900000001", "--ingress", "pigeon",
            data=tmp_path / "d")
    assert isinstance(r.exception, InvalidInput) and "ingress" in str(r.exception)
