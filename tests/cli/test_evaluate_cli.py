"""What `telshield evaluate detection --train-days` prints besides its own figures: rules alone,
model alone and both, side by side."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console

from telshield.cli.evaluate import variants_table
from telshield.evaluate.detection import DetectionReport

T0 = datetime(2026, 11, 1)


def _report(precision: float, recall: float, *, verify: DetectionReport | None = None,
            hard: dict[str, tuple[int, int]] | None = None) -> DetectionReport:
    return DetectionReport(period=(T0, T0), runs=4, scored=100, alerted=10, positives=8,
                           precision=precision, recall_24h=recall, f1=0.0, roc_auc=0.9,
                           fp_rate_hard=hard or {}, verify=verify)


def test_the_three_ways_of_alerting_are_printed_side_by_side() -> None:
    variants = {
        "rules": _report(1.0, 0.75, verify=_report(1.0, 0.5), hard={"courier": (0, 8)}),
        "model": _report(0.5, 0.875, verify=_report(0.6, 0.625),
                         hard={"courier": (2, 8), "sales": (1, 4)}),
        "both": _report(0.5, 1.0, verify=_report(0.6, 0.75), hard={"courier": (2, 8)}),
    }
    report = _report(1.0, 0.75)
    report.variants = variants
    console = Console(width=160, record=True, color_system=None)
    console.print(variants_table(report))
    cells = [[c.strip() for c in line.strip("│ ").split("│")]
             for line in console.export_text().splitlines() if line.startswith("│")]
    assert cells == [
        ["rules", "1.000", "0.750", "1.000", "0.500", "0.900", "0/8"],
        ["model", "0.500", "0.875", "0.600", "0.625", "0.900", "3/12"],
        ["both", "0.500", "1.000", "0.600", "0.750", "0.900", "2/8"],
    ]
