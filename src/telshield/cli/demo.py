"""``telshield demo``: the main job end to end on embedded defaults.

A simulated province is generated (or reused), ingested into the lake, detection is evaluated
against its truth, the disposal policy acts on the alerts, and the whole system is replayed
hour by hour to measure interception.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from telshield.cli.common import ConfigOption, DataDirOption, InitOption, existing_data
from telshield.cli.ingest import _summary
from telshield.services.ingest import ingest_all
from telshield.settings import Settings
from telshield.wiring.ingest import ingest_options

console = Console()


def demo_cmd(
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    subscribers: Annotated[
        int | None, typer.Option(help="Province size (default: the simulator's default).")
    ] = None,
    days: Annotated[int | None, typer.Option(help="Days simulated (default: the default).")] = None,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
    replay: Annotated[bool, typer.Option(help="End with the whole-system replay.")] = True,
    detect_every: Annotated[
        int | None, typer.Option(min=1, help="In the replay, run detection every N simulated "
                                 "hours (default: the cycle's `detect_every` setting).")
    ] = None,
    replay_hours: Annotated[
        int | None,
        typer.Option(min=1, help="Replay only the first N simulated hours (default: the whole "
                     "period; the first 72 hours are a warm-up, not judged)."),
    ] = None,
    init: InitOption = False,
) -> None:
    """Generate a province, ingest it, detect, dispose, and replay interception."""
    settings = existing_data(config, data_dir, init=init)
    province = settings.data_dir / "province"
    console.rule("[bold]1. a simulated province")
    _province(province, subscribers, days, seed)
    console.rule("[bold]2. ingest into the lake")
    console.print(_summary(ingest_all(province, ingest_options(settings))))
    console.rule("[bold]3. early warning, measured against the simulator's truth")
    from telshield.cli.evaluate import show_detection

    show_detection(settings, province)
    console.rule("[bold]4. disposal of the alerts")
    _dispose(settings)
    if replay:
        console.rule("[bold]5. the whole system replayed hour by hour")
        from telshield.cli.replay import replay_cmd

        replay_cmd(world=province, detect_every=detect_every, hours=replay_hours,
                   data_dir=settings.data_dir, config=config)
        console.print(f"the whole period: telshield evaluate replay --world {province} "
                      f"--data-dir {settings.data_dir}")
    console.print(f"lake: telshield lake stats --data-dir {settings.data_dir}")


def _province(out: Path, subscribers: int | None, days: int | None, seed: int) -> None:
    from telshield.wiring.demo import simulated_province

    rows = simulated_province(out, subscribers=subscribers, days=days, seed=seed)
    if rows is None:
        console.print(f"reusing the province in {out} (delete it to generate a new one)")
    else:
        console.print(f"generated {rows:,} call and SMS rows in {out}")


def _dispose(settings: Settings) -> None:
    """Run detection once over the whole lake, writing alerts into the store, and show what the
    disposal policy did with them."""
    from telshield import wiring
    from telshield.cli.cases import print_disposal
    from telshield.evaluate.detection import calls_period
    from telshield.wiring.detection import detector

    d = wiring.disposal(settings)
    det = detector(settings, sink=wiring.alert_sink(settings, store=d.store), use_model=False,
                   whitelist=d.lists)
    _, until = calls_period(det)
    result = det.run(until)
    console.print(f"detection at {until:%Y-%m-%d %H:%M}: scored {result.scored:,}, "
                  f"alerts {result.alerts:,}")
    print_disposal(settings, d.cases)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the CLI."""
    app.command("demo")(demo_cmd)
