"""`telshield evaluate registrations`: a tiny province's applications through the registration
check, judged against truth, and the judging arithmetic (the province: ``world`` in conftest)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
from typer.testing import CliRunner

from telshield.cli.evaluate import evaluate_app
from telshield.domain.registrations import Decision
from telshield.evaluate.registrations import (
    RegistrationReport,
    _judge,
    evaluate_registrations,
    statement_supported,
)
from telshield.services.registrations import RegistrationService
from telshield.settings import Settings


def test_the_check_on_the_province_meets_the_sanctions_and_limit_bars(
        world: Path, settings: Settings, tmp_path: Path) -> None:
    r = evaluate_registrations(settings, world, tmp_path / "work")
    assert r.applications > 30
    refused, sanctioned = r.sanctioned_refused
    assert sanctioned > 0 and refused == sanctioned
    assert r.honest_refused_sanctioned[0] == 0 and r.honest_refused_sanctioned[1] > 0
    assert r.over_limit_ids == 0 and 0 < r.max_cards <= r.limit
    # The gang openers trying beyond the limit are refused by the card limit rule.
    assert r.reasons.get("card_limit", 0) > 0
    assert r.decisions["sanctioned"].get("refuse", 0) == sanctioned


def test_the_command_prints_each_bar(world: Path, settings: Settings) -> None:
    res = CliRunner().invoke(evaluate_app, ["registrations", "--world", str(world),
                                            "--data-dir", str(settings.data_dir)],
                             terminal_width=200)
    assert res.exit_code == 0, res.output
    for bar in ("sanctioned applications refused (bar ≥ 99%)",
                "honest applicants refused for sanctions (bar 0)",
                "card limit never exceeded (max cards per ID ≤ 5)"):
        assert bar in res.output
    if statement_supported(RegistrationService.check):
        assert "honest transcripts passing at the first recording" in res.output
        assert "honest transcripts passing with the retake (bar ≥ 99%)" in res.output
        assert "mismatches failing (bar ≥ 98%)" in res.output
    else:
        line = next(x for x in res.output.splitlines() if "statement check" in x)
        assert "not available" in line


def _app(attempt: str, outcome: str = "issued", msisdn: str = "8613800000001",
         id_hash: str = "a" * 64) -> dict[str, Any]:
    return {"attempt_id": attempt, "outcome": outcome, "requested_msisdn": msisdn,
            "id_hash": id_hash}


def test_judging_counts_the_statement_reason_codes_and_cards() -> None:
    rows = [_app("A1"), _app("A2", msisdn="8613800000002"), _app("A3"), _app("A4"),
            _app("A5", outcome="abandoned", msisdn="8613800000009")]
    decided = [("A1", Decision.ALLOW, ()),
               ("A2", Decision.VERIFY, ("statement_mismatch",)),  # an honest one failing
               ("A3", Decision.VERIFY, ("statement_missing",)),
               ("A4", Decision.REFUSE, ("sanctioned",)),
               ("A5", Decision.ALLOW, ())]
    kinds = {"A1": "honest", "A2": "honest", "A3": "honest", "A4": "sanctioned", "A5": "honest"}
    statements = {"A1": "honest", "A2": "honest", "A3": "silence", "A4": "wrong_digits",
                  "A5": "none"}
    before = pa.table({"id_hash": ["a" * 64] * 4, "msisdn": [f"86139{k:08d}" for k in range(4)],
                       "status": ["active", "active", "active", "cancelled"]})
    r = _judge(rows, decided, kinds, statements, before, 5, True)
    assert r.honest_pass == (1, 2)
    assert r.mismatch_fail == (1, 2) and r.mismatch_fail_by_kind == {
        "silence": (1, 1), "wrong_digits": (0, 1)}
    assert r.sanctioned_refused == (1, 1) and r.honest_refused_sanctioned == (0, 4)
    # Three live cards before, two numbers granted and issued (the abandoned one is no card).
    assert r.max_cards == 5 and r.over_limit_ids == 0
    r = _judge(rows, decided, kinds, statements, before, 4, False)
    assert r.over_limit_ids == 1
    bars = dict((b, f) for b, f, _ in r.bars())
    assert bars["statement check"] == "not available"


def test_bars_say_when_a_figure_is_met() -> None:
    r = RegistrationReport(period=(None, None), applications=10, limit=5,  # type: ignore[arg-type]
                           sanctioned_refused=(99, 100), honest_refused_sanctioned=(1, 50),
                           max_cards=5, over_limit_ids=0, over_limit_before=0,
                           statement_available=True, honest_pass=(98, 100),
                           mismatch_fail=(49, 50))
    met = [m for _, _, m in r.bars()]
    assert met == [True, False, True, False, True]


def test_a_near_miss_is_retaken_as_the_sales_system_would(world: Path, settings: Settings,
                                                          tmp_path: Path) -> None:
    r = evaluate_registrations(settings, world, tmp_path / "work")
    assert r.retake_available
    # The final answers: every retake asked was sent again and answered allow or verify.
    assert not any(d.get("retake") for d in r.decisions.values())
    assert r.honest_pass[1] == r.honest_pass_first[1] > 0
    assert r.honest_pass[0] >= r.honest_pass_first[0]
    asked = sum(a for a, _ in r.retakes.values())
    assert r.honest_pass[0] - r.honest_pass_first[0] <= asked
    # Without the side file (a world generated before retakes), the first answer stands.
    bare = tmp_path / "bare"
    shutil.copytree(world, bare)
    (bare / "truth" / "registration_retakes.parquet").unlink()
    r = evaluate_registrations(settings, bare, tmp_path / "work2")
    assert not r.retake_available and r.honest_pass == r.honest_pass_first
