"""``telshield detect``: run early warning once, or keep running every interval."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from telshield.cli.common import ConfigOption, DataDirOption, EngineOption, settings_from
from telshield.detect.features import Window
from telshield.domain.alerts import Alert
from telshield.domain.clock import feed_now
from telshield.domain.errors import InvalidInput

console = Console()

FeedsOption = Annotated[Path | None, typer.Option(
    "--feeds", help="Read feeds from this folder (one sub-folder per feed) instead of the lake.",
    exists=True, file_okay=False)]
RulesOption = Annotated[Path | None, typer.Option(
    "--rules", help="Rules TOML file (default: settings, else the shipped rules).",
    exists=True, dir_okay=False)]


def parse_time(text: str) -> datetime:
    """Parse 'YYYY-MM-DD[ HH:MM[:SS]]' (China Standard Time, as in the feeds)."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"time {text!r} is not 'YYYY-MM-DD HH:MM:SS'") from None


def parse_span(text: str) -> timedelta:
    """Parse '30m', '1h', '1d' into a duration."""
    try:
        return Window.parse(text).length
    except ValueError as e:
        raise InvalidInput(str(e)) from None


def detect_cmd(
    until: Annotated[str | None, typer.Option(help="Run at this time (CST); default now.")] = None,
    every: Annotated[str | None, typer.Option(help="Run again at this interval, e.g. 1h.")] = None,
    max_runs: Annotated[int, typer.Option(help="With --every: stop after N runs (0 = never).")] = 0,
    feeds: FeedsOption = None,
    rules: RulesOption = None,
    model: Annotated[str | None, typer.Option(
        help="Lake model version (default: the one `telshield model choose` chose; none chosen: "
             "rules only).")] = None,
    no_model: Annotated[bool, typer.Option("--no-model", help="Rules only.")] = False,
    engine: EngineOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Score numbers from their calls and open or update alerts.

    With --until and --every, runs replay time from --until forward (no waiting); with
    --every alone, each run is at the wall-clock time and the command keeps running.
    """
    from telshield import wiring
    from telshield.cli.progress import steps
    from telshield.services.cases import CaseAlertSink
    from telshield.wiring.detection import detector

    settings = settings_from(config, data_dir)
    step = parse_span(every) if every else None
    d = wiring.disposal(settings)
    det = detector(settings, sink=CaseAlertSink(d.cases), lake=feeds, model_version=model,
                   use_model=not no_model, rules_file=rules, whitelist=d.lists,
                   engine=engine)
    det.reader.require("calls")
    console.print(f"rules {det.rules.version}; model "
                  + (det.model.version if det.model else
                     "none (rules only; `telshield model choose` picks one)"))
    devices = wiring.device_barring(settings, d, det.reader)
    at = parse_time(until) if until else feed_now()
    runs = 0
    while True:
        with steps(f"detect at {at:%Y-%m-%d %H:%M}") as progress:
            result = det.run(at, progress=progress)
        barred = devices.run(at).devices if devices is not None else 0
        runs += 1
        tiers = ", ".join(f"{k}: {v}" for k, v in sorted(result.tiers.items())) or "none"
        console.print(f"[bold]{at:%Y-%m-%d %H:%M}[/]  scored {result.scored:,}  "
                      f"alerts {result.alerts:,} ({tiers})  days read {result.days_read}  "
                      f"devices barred {barred:,}")
        if step is None or (max_runs and runs >= max_runs):
            break
        if until:
            at += step
        else:
            time.sleep(step.total_seconds())
            at = feed_now()
    _top(det.sink.open_alerts())


def _top(alerts: list[Alert], n: int = 10) -> None:
    t = Table("number", "score", "tier", "top reason", title=f"open alerts: {len(alerts):,}")
    for a in sorted(alerts, key=lambda a: -a.score)[:n]:
        t.add_row(a.msisdn, f"{a.score:.2f}", a.tier.value, a.reasons[0].text if a.reasons else "")
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add ``detect`` to the CLI."""
    app.command("detect")(detect_cmd)
