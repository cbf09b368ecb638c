"""``telshield evaluate``: measure detectors against the simulator's truth."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    EngineOption,
    command_group,
    settings_from,
)
from telshield.cli.detect import RulesOption, parse_span
from telshield.settings import Settings

if TYPE_CHECKING:  # the evaluation loads the engine: imported where it runs
    from telshield.evaluate.detection import DetectionReport

console = Console()
evaluate_app = command_group(help="Measure detectors against simulator truth.",
                             no_args_is_help=True)


@evaluate_app.command("detection")
def detection_cmd(
    world: Annotated[Path | None, typer.Option(
        help="Folder written by `telshield world generate` (or use --worlds).",
        exists=True, file_okay=False)] = None,
    step: Annotated[str, typer.Option(help="Replay a detection run every this often.")] = "6h",
    warmup_days: Annotated[int | None, typer.Option(
        help="Days of history before judging starts [default: 7; 3 with --worlds].")] = None,
    train_days: Annotated[int, typer.Option(
        help="Train the model on clues from the first N days, judge the rest (0 = rules only)."
    )] = 0,
    rules: RulesOption = None,
    worlds: Annotated[int, typer.Option(
        help="Judge on N generated provinces (seeds --seed-base ..) instead of --world.")] = 0,
    randomise: Annotated[bool, typer.Option(
        "--randomise", help="With --worlds: draw each province from the prior.")] = False,
    seed_base: Annotated[int, typer.Option(help="With --worlds: the first seed.")] = 1000,
    subscribers: Annotated[int, typer.Option(help="With --worlds: subscribers each.")] = 20_000,
    days: Annotated[int, typer.Option(help="With --worlds: simulated days each.")] = 10,
    world_config: Annotated[Path | None, typer.Option(
        help="With --worlds: a world TOML (the mix, [randomise] ranges).", exists=True,
        dir_okay=False)] = None,
    worlds_dir: Annotated[Path | None, typer.Option(
        help="With --worlds: where provinces are cached [default: DATA_DIR/worlds].")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="With --worlds: also write every figure as JSON here.")] = None,
    engine: EngineOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Precision, recall within 24 h, F1, ROC-AUC, per-role recall, hard-negative FP rate."""
    settings = settings_from(config, data_dir)
    if worlds > 0:
        from telshield.cli.worlds import run_worlds

        run_worlds(settings, worlds=worlds, seed_base=seed_base, randomise=randomise,
                   subscribers=subscribers, days=days, world_config=world_config,
                   step=parse_span(step), warmup_days=3 if warmup_days is None else warmup_days,
                   rules=rules, cache=worlds_dir, json_out=json_out)
        return
    if world is None:
        raise typer.BadParameter("give --world DIR, or --worlds N to generate provinces")
    show_detection(settings, world, step=step, train_days=train_days,
                   warmup_days=7 if warmup_days is None else warmup_days, rules=rules,
                   engine=engine)


def show_detection(settings: Settings, world: Path, *, step: str = "6h", train_days: int = 0,
                   warmup_days: int = 7, rules: Path | None = None,
                   engine: str | None = None) -> None:
    """Replay detection over a simulated province and print its evaluation (used by demo)."""
    from telshield.cli.progress import steps
    from telshield.evaluate.detection import evaluate_detection
    from telshield.wiring.detection import detector, models_dir

    det = detector(settings, lake=world, keep_state=False, use_model=False, rules_file=rules,
                   engine=engine)
    with steps("evaluate detection") as progress:
        r = evaluate_detection(det, world, step=parse_span(step), train_days=train_days,
                               warmup_days=warmup_days, models_dir=models_dir(settings),
                               progress=progress)
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
    if r.variants:
        console.print(variants_table(r))


def variants_table(r: DetectionReport) -> Table:
    """Rules alone, model alone and both, at watch and at verify or above."""
    t = Table("alerting by", "precision", "recall 24 h", "verify+ precision", "verify+ recall 24 h",
              "ROC-AUC", "hard negatives alerted", title="rules alone, model alone, both")
    for name, v in r.variants.items():
        w = v.verify or v
        hard = sum(a for a, _ in v.fp_rate_hard.values())
        of = sum(n for _, n in v.fp_rate_hard.values())
        t.add_row(name, f"{v.precision:.3f}", f"{v.recall_24h:.3f}", f"{w.precision:.3f}",
                  f"{w.recall_24h:.3f}", f"{v.roc_auc:.3f}", f"{hard}/{of}")
    return t


@evaluate_app.command("registrations")
def registrations_cmd(
    world: Annotated[Path, typer.Option(
        help="Folder written by `telshield world generate`.", exists=True, file_okay=False)],
    work: Annotated[Path | None, typer.Option(
        help="Where the run keeps its lake and store (started afresh) "
             "[default: DATA_DIR/evaluate-registrations/<world>].")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """The registration check on a province's SIM applications: sanctions, card limit,
    video statement, each against its bar."""
    from telshield.cli.progress import steps
    from telshield.evaluate.registrations import evaluate_registrations, work_dir

    settings = settings_from(config, data_dir)
    with steps("evaluate registrations") as progress:
        r = evaluate_registrations(settings, world, work or work_dir(settings, world),
                                   progress=progress)
    console.print(f"[bold]registration check[/] {r.period[0]:%Y-%m-%d %H:%M} .. "
                  f"{r.period[1]:%Y-%m-%d %H:%M}: {r.applications:,} applications in "
                  f"{r.seconds:.1f} s")
    for bar, figure, met in r.bars():  # one plain line per bar: never wrapped, easy to grep
        typer.echo(f"{bar}: {figure}" + ("" if met is None else (" [met]" if met
                                                                  else " [NOT MET]")))
    if r.over_limit_before:
        console.print(f"IDs above the card limit before the first application (the old "
                      f"process's doing, not the check's): {r.over_limit_before}")
    if r.mismatch_fail_by_kind:
        console.print("mismatches failing by kind: " + ", ".join(
            f"{k} {a}/{b}" for k, (a, b) in r.mismatch_fail_by_kind.items()))
    if r.retakes:
        console.print("statement retakes asked (passed after the retake) by statement kind: "
                      + ", ".join(f"{k} {a} ({b})" for k, (a, b) in r.retakes.items()))
    d = Table("applicant (truth)", "allow", "retake", "verify", "refuse", title="decisions")
    for kind, counts in r.decisions.items():
        d.add_row(kind, *(str(counts.get(x, 0))
                          for x in ("allow", "retake", "verify", "refuse")))
    console.print(d)
    console.print("reasons: " + (", ".join(f"{k} {v}" for k, v in r.reasons.items()) or "none"))


@evaluate_app.command("statement-retake")
def statement_retake_cmd(
    world: Annotated[Path, typer.Option(
        help="Folder written by `telshield world generate`.", exists=True, file_okay=False)],
    seed: Annotated[int, typer.Option(
        help="Seed of the neighbouring-card mules' recognition errors.")] = 0,
    rounds: Annotated[int, typer.Option(
        help="Neighbouring-card mules per number applied for, each way.")] = 4,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """The video statement check with its retake on a province's transcripts (the
    [registration] statement settings), and mules reading a neighbouring card's tail."""
    from telshield.evaluate.statement import evaluate_statement
    from telshield.wiring.registrations import limits

    settings = settings_from(config, data_dir)
    r = evaluate_statement(world, limits(settings).statement, seed=seed, rounds=rounds)

    def share(x: tuple[int, int]) -> str:
        return f"{x[0] / x[1]:.1%} ({x[0]}/{x[1]})" if x[1] else "n/a (none)"

    p, f = r.honest_retake, r.mismatch_fail
    typer.echo(f"honest transcripts passing at the first recording: {share(r.honest_first)}")
    typer.echo(f"honest transcripts passing with the retake (bar ≥ 99%): {share(p)}"
               + ("" if not p[1] else " [met]" if p[0] >= 0.99 * p[1] else " [NOT MET]"))
    typer.echo(f"mismatches failing with the retake (bar ≥ 98%): {share(f)}"
               + ("" if not f[1] else " [met]" if f[0] >= 0.98 * f[1] else " [NOT MET]"))
    if r.mismatch_fail_by_kind:
        typer.echo("mismatches failing by kind: " + ", ".join(
            f"{k} {a}/{b}" for k, (a, b) in r.mismatch_fail_by_kind.items()))
    typer.echo("retakes asked by statement kind: "
               + (", ".join(f"{k} {v}" for k, v in r.retakes.items()) or "none"))
    for name, c in r.neighbours.items():
        typer.echo(f"mules reading the {name} card's tail: {c.get('mules', 0)}; retake asked "
                   f"{c.get('retake asked', 0)}; passing: first recording "
                   f"{c.get('passed first', 0)}, with the retake "
                   f"{c.get('passed with retake', 0)}; were one digit off accepted "
                   f"{c.get('one digit off accepted', 0)}")


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` (detection, and the whole-system replay) to the CLI."""
    from telshield.cli.replay import replay_cmd

    evaluate_app.command("replay")(replay_cmd)
    from telshield.cli.evaluate_staff import staff_risk_cmd

    evaluate_app.command("staff-risk")(staff_risk_cmd)
    app.add_typer(evaluate_app, name="evaluate")
