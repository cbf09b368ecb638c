"""``telshield demo``: the main job end to end on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from telshield.cli.common import ConfigOption, DataDirOption, settings_from
from telshield.cli.ingest import _summary, options_from
from telshield.services.ingest import ingest_all

console = Console()

SAMPLES = Path(__file__).resolve().parents[3] / "tests" / "data" / "samples"


def demo_cmd(
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    samples: Annotated[Path, typer.Option(help="Folder of sample feed files.")] = SAMPLES,
) -> None:
    """Ingest the sample feeds into the lake and show what it holds."""
    settings = settings_from(config, data_dir)
    console.rule("[bold]telshield demo")
    staged = _as_feed_folders(samples, settings.data_dir / "samples")
    reports = ingest_all(staged, options_from(settings))
    console.print(_summary(reports))
    console.print(
        f"lake: {settings.lake_dir}  —  see it with: telshield lake stats "
        f"--data-dir {settings.data_dir}"
    )


def _as_feed_folders(samples: Path, out: Path) -> Path:
    """Lay sample files <feed>.csv out as <feed>/<feed>.csv, the layout ``ingest all`` reads."""
    for f in sorted(samples.glob("*.csv")):
        d = out / f.stem
        d.mkdir(parents=True, exist_ok=True)
        (d / f.name).write_bytes(f.read_bytes())
    return out


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the CLI."""
    app.command("demo")(demo_cmd)
