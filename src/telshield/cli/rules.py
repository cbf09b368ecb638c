"""``telshield rules``: check a rules file, backtest it against labels."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

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
from telshield.cli.detect import FeedsOption, RulesOption, parse_span, parse_time
from telshield.cli.users import ActorOption, default_actor

console = Console()
rules_app = command_group(help="Early-warning rules: check and backtest.", no_args_is_help=True)


@rules_app.command("check")
def check_cmd(
    path: Annotated[Path | None, typer.Argument(help="Rules file (default: the configured one).",
                                                exists=True, dir_okay=False)] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Validate a rules file and list its rules."""
    from telshield.detect.features import Window
    from telshield.detect.inbound import detection_feature_names
    from telshield.services.rules import load_rules

    settings = settings_from(config, data_dir)
    windows = [Window.parse(w) for w in settings.detect.windows]
    rs = load_rules(path or settings.detect.rules_file, detection_feature_names(windows))
    t = Table("rule", "weight", "when", title=f"rules version {rs.version}: valid")
    for r in rs.rules:
        t.add_row(r.name, f"{r.weight:g}", r.when)
    console.print(t)


@rules_app.command("backtest")
def backtest_cmd(
    start: Annotated[str, typer.Option("--from", help="Period start (CST).")],
    end: Annotated[str, typer.Option("--to", help="Period end (CST).")],
    step: Annotated[str, typer.Option(help="Evaluate features every this often.")] = "1d",
    lag: Annotated[str, typer.Option(help="Read clue labels up to this long after --to.")] = "7d",
    labels: Annotated[Path | None, typer.Option(
        help="Extra labels: CSV/Parquet with msisdn and label (1 = fraud).", exists=True)] = None,
    rules: RulesOption = None,
    feeds: FeedsOption = None,
    engine: EngineOption = None,
    keep: Annotated[bool, typer.Option(
        help="Keep the figures in the store: the web's rules page shows the last backtest of "
             "each rules version.")] = True,
    actor: ActorOption = "",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Each rule's hits, precision and recall against police clues over a period."""
    from telshield import wiring
    from telshield.cli.progress import steps
    from telshield.domain.clock import store_now
    from telshield.services.model import read_table
    from telshield.services.rules import backtest, record_backtest
    from telshield.wiring.detection import detector

    settings = settings_from(config, data_dir)
    det = detector(settings, lake=feeds, keep_state=False, use_model=False, rules_file=rules,
                   engine=engine)
    extra: set[str] = set()
    if labels is not None:
        frame = read_table(labels)
        extra = set(frame.loc[frame["label"].astype(int) == 1, "msisdn"].astype(str))
    with steps("backtest") as progress:
        stats = backtest(det, parse_time(start), parse_time(end), step=parse_span(step),
                         label_lag=parse_span(lag) if lag != "0" else timedelta(0), labels=extra,
                         progress=progress)
    t = Table("rule", "hits", "true hits", "precision", "recall",
              title=f"backtest {start} .. {end}, rules {det.rules.version}, "
                    f"labelled fraud numbers active: {stats[0].positives if stats else 0}")
    for s in stats:
        t.add_row(s.name, f"{s.hits:,}", f"{s.true_hits:,}", f"{s.precision:.3f}",
                  f"{s.recall:.3f}")
    console.print(t)
    if keep:
        store = wiring.open_store(settings)
        record_backtest(store, det.rules.version, stats, start=parse_time(start),
                        end=parse_time(end), step=step, label_lag=lag,
                        actor=actor or default_actor(), at=store_now())
        console.print(f"kept in the store for rules version {det.rules.version}")


def register(app: typer.Typer) -> None:
    """Add ``rules`` to the CLI."""
    app.add_typer(rules_app, name="rules")
