"""``telshield police report --out-dir`` and ``police report-verify`` as a person runs them: the
month's report files with their SHA256SUMS, the route figures read from the decision log, and
a file altered afterwards found."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from telshield.domain.clock import feed_epoch
from telshield.screening.decisionlog import DecisionRecord, JsonLinesDecisionLog


def _said(text: str, phrase: str) -> bool:
    """The console folds long lines (a temporary directory's path is longer than the width, and
    its length varies by run), so a phrase is looked for with all whitespace removed."""
    return "".join(phrase.split()) in "".join(text.split())


def test_report_out_dir_and_verify(tmp_path: Path) -> None:
    from datetime import datetime

    from telshield.cli import _register, app

    _register()
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]

    def run(*args: str) -> tuple[int, str]:
        r = runner.invoke(app, [*args, *data])
        return r.exit_code, r.output

    assert run("init")[0] == 0
    log = JsonLinesDecisionLog(tmp_path / "screening" / "decisions", node="a1-")
    for i, outcome in enumerate(("reject", "allow", "reject")):
        log.append(DecisionRecord(f"a1-{i:x}", feed_epoch(datetime(2026, 3, 2, 10, i)),
                                  "8613401012345", "8613400001234", "radio", outcome, (), "v"))
    log.close()
    out = tmp_path / "report"
    code, text = run("police", "report", "--month", "2026-03", "--out-dir", str(out),
                     "--actor", "ann")
    assert code == 0, text
    assert _said(text, "SHA256SUMS") and _said(text, "report-verify")
    body = json.loads((out / "police-report-2026-03.json").read_text(encoding="utf-8"))
    by = {r["route"]: r for r in body["figures"]["routes"]}
    assert (by["inter_province"]["screened"], by["inter_province"]["rejected"]) == (3, 2)
    assert "inter_province,3,2," in (out / "police-report-2026-03-routes.csv").read_text()

    code, text = run("police", "report-verify", str(out))
    assert code == 0 and _said(text, "intact") and not _said(text, "NOT INTACT"), text
    csv_file = out / "police-report-2026-03-routes.csv"
    csv_file.write_text(csv_file.read_text().replace("inter_province,3,2,", "inter_province,3,0,"))
    code, text = run("police", "report-verify", str(out))
    assert code == 1 and _said(text, "NOT INTACT") and _said(text, "altered"), text
