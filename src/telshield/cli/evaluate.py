"""``telshield evaluate``: measure detectors against the simulator's truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from telshield.cli.common import ConfigOption, DataDirOption, settings_from
from telshield.cli.detect import RulesOption, parse_span
from telshield.settings import Settings

console = Console()
evaluate_app = typer.Typer(help="Measure detectors against simulator truth.", no_args_is_help=True)


@evaluate_app.command("detection")
def detection_cmd(
    world: Annotated[Path, typer.Option(help="Folder written by `telshield world generate`.",
                                        exists=True, file_okay=False)],
    step: Annotated[str, typer.Option(help="Replay a detection run every this often.")] = "6h",
    warmup_days: Annotated[int, typer.Option(
        help="Days of history before judging starts (the longest window).")] = 7,
    train_days: Annotated[int, typer.Option(
        help="Train the model on clues from the first N days, judge the rest (0 = rules only)."
    )] = 0,
    rules: RulesOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Precision, recall within 24 h, F1, ROC-AUC, per-role recall, hard-negative FP rate."""
    show_detection(settings_from(config, data_dir), world, step=step, train_days=train_days,
                   warmup_days=warmup_days, rules=rules)


def show_detection(settings: Settings, world: Path, *, step: str = "6h", train_days: int = 0,
                   warmup_days: int = 7, rules: Path | None = None) -> None:
    """Replay detection over a simulated province and print its evaluation (used by demo)."""
    from telshield.evaluate.detection import evaluate_detection
    from telshield.services.alerts import InMemoryAlertSink
    from telshield.services.detection import build_detector, models_dir

    det = build_detector(settings, InMemoryAlertSink(), feeds=world, use_model=False,
                         rules_file=rules)
    r = evaluate_detection(det, world, step=parse_span(step), train_days=train_days,
                           warmup_days=warmup_days, models_dir=models_dir(settings))
    console.print(
        f"[bold]detection[/] {r.period[0]:%Y-%m-%d %H:%M} .. {r.period[1]:%Y-%m-%d %H:%M}, "
        f"{r.runs} runs every {step}; rules {r.rules_version}; model {r.model_version or 'none'}"
    )
    console.print(f"numbers scored {r.scored:,}, alerted {r.alerted:,}, "
                  f"fraud numbers to catch {r.positives:,}")
    t = Table("metric", "value")
    t.add_row("precision", f"{r.precision:.3f}")
    t.add_row("recall within 24 h of first fraud call", f"{r.recall_24h:.3f}")
    t.add_row("F1", f"{r.f1:.3f}")
    t.add_row("ROC-AUC (best score per number)", f"{r.roc_auc:.3f}")
    t.add_row("median hours, first fraud call to alert", f"{r.median_hours_to_alert:.1f}")
    for role, (caught, of) in r.recall_by_role.items():
        t.add_row(f"recall: {role}", f"{caught / of:.3f} ({caught}/{of})" if of else "n/a")
    for scen, (caught, of) in r.recall_by_scenario.items():
        t.add_row(f"recall: scenario {scen}", f"{caught / of:.3f} ({caught}/{of})")
    for role, (alerted, of) in r.fp_rate_hard.items():
        t.add_row(f"false positives: {role}", f"{alerted / of:.3%} ({alerted}/{of})"
                  if of else "n/a")
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` (detection, and the whole-system replay) to the CLI."""
    from telshield.cli.replay import replay_cmd

    evaluate_app.command("replay")(replay_cmd)
    app.add_typer(evaluate_app, name="evaluate")
