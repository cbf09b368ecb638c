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


def test_a_lists_export_builds_the_snapshot(tmp_path: Path) -> None:
    """The file `telshield lists export` writes is what `screen build --lists` reads: numbers,
    prefixes, ranges, IMEIs and police orders come through as the store has them."""
    from telshield.cli import lists as lists_cli
    from telshield.settings import Settings
    from telshield.wiring import disposal

    data = tmp_path / "d"
    svc = disposal(Settings(data_dir=data)).lists
    for kind, value, colour, kw in [
        ("number", "8613800000002", "black", {}),
        ("number", "8613800000003", "white", {}),
        ("number", "8613800000003", "black", {"source": "police", "police_ordered": True}),
        ("prefix", "86171", "grey", {}),
        ("range", "8613500000000", "white", {"value_end": "8613500000009"}),
        ("imei", "861234560000011", "black", {"source": "disposal"}),
    ]:
        svc.add(kind, value, colour, source=kw.pop("source", "manual"), reason="test",
                actor="t", **kw)
    export = tmp_path / "lists.csv"
    app = typer.Typer()
    lists_cli.register(app)
    r = CliRunner().invoke(app, ["lists", "export", str(export), "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    assert export.read_text().startswith("kind,value,value_end,colour")
    r = run("build", "--lists", str(export), data=data)
    assert r.exit_code == 0, r.output
    assert "1 barred devices" in " ".join(r.output.split())
    for args, expected in [
        (("8613800000002", "8613900000001", "--ingress", "radio"), "reject  reasons=list:black"),
        (("8613800000003", "8613900000001", "--ingress", "radio"), "reasons=list:police"),
        (("8617112345678", "8613900000001", "--ingress", "radio"), "label  reasons=list:grey"),
        (("8613500000004", "8613900000001"), "allow  reasons=list:white"),
        (("8618600000001", "8613900000001", "--ingress", "radio", "--caller-imei",
          "861234560000011"), "reject  reasons=device:listed"),
    ]:
        r = run("decide", *args, data=data)
        assert expected in r.output, (args, r.output)


def test_roaming_file_lets_our_subscribers_abroad_call_home(tmp_path: Path) -> None:
    data = tmp_path / "d"
    roaming = tmp_path / "roaming.csv"
    roaming.write_text("msisdn\n8613812340000\n")
    assert run("build", "--roaming", str(roaming), "--no-device-intel", data=data).exit_code == 0
    home = run("decide", "8613812340000", "8613900000001", "--ingress", "international",
               data=data)
    assert "allow" in home.output
    other = run("decide", "8613812345678", "8613900000001", "--ingress", "international",
                data=data)
    assert "spoof:domestic_via_international" in other.output


def test_bad_rows_of_an_export_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "lists.csv"
    bad.write_text("kind,value,value_end,colour,source,reason,expires_at,police_ordered\n"
                   "number,8613800000002,,black,manual,r,,\nnumber,86-138,,black,manual,r,,\n")
    r = run("build", "--lists", str(bad), "--no-device-intel", data=tmp_path / "d")
    assert isinstance(r.exception, InvalidInput) and "line 3" in str(r.exception)


def test_http_face_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    r = run("http", data=tmp_path / "d")
    assert isinstance(r.exception, InvalidInput) and "--allow-open" in str(r.exception)
