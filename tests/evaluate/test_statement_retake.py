"""`telshield evaluate statement-retake`: the statement check with its retake on a tiny
province's transcripts, and mules reading a neighbouring card's tail, who get a retake and fail
it (where accepting a one-digit slip would let most of them through)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from telshield.cli.evaluate import evaluate_app
from telshield.domain.errors import InvalidInput
from telshield.domain.statement import StatementPolicy
from telshield.evaluate.statement import evaluate_statement
from telshield.settings import Settings


def test_neighbouring_card_mules_fail_the_retake(world: Path) -> None:
    r = evaluate_statement(world, StatementPolicy(), rounds=2)
    assert r.honest_retake[1] == r.honest_first[1] > 30
    assert r.honest_retake[0] >= r.honest_first[0]
    for name in ("next", "previous"):
        c = r.neighbours[name]
        assert c["mules"] > 60
        # Most are one digit off (a carry changes two): a retake is asked, and they read the
        # neighbour's tail again. Only the recogniser's own slip into the right digit (0.5 %
        # a digit, one in nine of them the right one: about 0.1 % of mules) lets one through,
        # either time.
        assert c["retake asked"] > 0.7 * c["mules"]
        assert c["passed first"] <= 2
        assert c["passed with retake"] - c["passed first"] <= 2
        assert c["one digit off accepted"] > 0.7 * c["mules"]
    off = evaluate_statement(world, StatementPolicy(retake=False), rounds=1)
    assert off.honest_retake == off.honest_first and not off.retakes
    assert off.neighbours["next"]["retake asked"] == 0
    with pytest.raises(InvalidInput, match="rounds"):
        evaluate_statement(world, StatementPolicy(), rounds=0)


def test_the_command_prints_the_figures(world: Path, settings: Settings,
                                        tmp_path: Path) -> None:
    res = CliRunner().invoke(evaluate_app, ["statement-retake", "--world", str(world),
                                            "--rounds", "1",
                                            "--data-dir", str(settings.data_dir)],
                             terminal_width=200)
    assert res.exit_code == 0, res.output
    for line in ("honest transcripts passing at the first recording",
                 "honest transcripts passing with the retake (bar ≥ 99%)",
                 "mismatches failing with the retake (bar ≥ 98%)",
                 "mules reading the next card's tail", "mules reading the previous card's tail"):
        assert line in res.output
    res = CliRunner().invoke(evaluate_app, ["statement-retake", "--world", str(tmp_path)])
    assert res.exit_code != 0
