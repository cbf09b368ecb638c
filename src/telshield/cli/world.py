"""``telshield world``: generate a simulated province, and describe one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from telshield.cli.common import command_group
from telshield.wiring.world import (
    MONTHLY,
    check,
    describe,
    drawn,
    generate,
    load_config,
    prior_entries,
    prior_markdown,
    randomised,
)

console = Console()
world_app = command_group(help="The province simulator: feeds of a simulated network with truth.")


@world_app.command("generate")
def generate_cmd(
    out: Annotated[Path, typer.Option("--out", help="Directory to write feeds and truth/ to.")],
    subscribers: Annotated[int | None, typer.Option(help="Our subscribers (SIMs).")] = None,
    days: Annotated[int | None, typer.Option(help="Simulated days.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same province.")] = 7,
    start: Annotated[
        str | None, typer.Option(help="First instant, 'YYYY-MM-DD HH:MM:SS' (CST).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="A TOML file overriding the default scenario mix.",
                     exists=True, dir_okay=False),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    overwrite: Annotated[bool, typer.Option(help="Replace feeds already in --out.")] = False,
    randomise: Annotated[bool, typer.Option(
        "--randomise", help="Draw every behavioural parameter from the prior (per seed).")
    ] = False,
) -> None:
    """Simulate a province and write its eleven feeds plus truth/ (which no detector reads)."""
    if fmt not in ("parquet", "csv"):
        raise typer.BadParameter("--format must be parquet or csv")
    cfg = load_config(config, subscribers=subscribers, days=days, start=start)
    if randomise:
        cfg = randomised(cfg)
    with console.status("simulating") as status:
        summary = generate(cfg, seed, out, "csv" if fmt == "csv" else "parquet",
                           progress=lambda m: status.update(f"simulating: {m}"),
                           overwrite=overwrite)
    table = Table(title=f"province written to {out}")
    table.add_column("feed / truth")
    table.add_column("rows", justify="right")
    for name, rows in summary.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    rate = summary.traffic_rows / summary.seconds if summary.seconds else 0.0
    console.print(f"{summary.seconds:.1f} s, {rate:,.0f} call+SMS rows/s")
    if cfg.randomise.enabled:
        console.print(f"drawn from the prior for seed {seed}: `telshield world describe {out}` "
                      "shows the parameters")


@world_app.command("describe")
def describe_cmd(
    directory: Annotated[Path, typer.Argument(help="A directory made by world generate.")],
) -> None:
    """Print the province's vital statistics against the published figures."""
    stats = describe(directory)
    prov = stats["province"]
    console.print(f"[bold]{prov['subscribers']:,} subscribers, {prov['days']} days, "
                  f"{prov['calls']:,} calls, {prov['clues']} police clues")
    console.print(f"calls per subscriber a day {prov['calls_per_subscriber_day']:.2f}; "
                  f"median answered call {prov['median_answered_duration_s']:.0f} s")
    groups = Table(title="medians per number, measured from the feeds")
    cols = ["numbers", "calls_per_callee", "outgoing_share", "active_days_per_30",
            "sim_age_months", "counties_visited"]
    groups.add_column("group")
    for c in cols:
        groups.add_column(c.replace("_", " "), justify="right")
    for g, row in stats["groups"].items():
        groups.add_row(g, *[_fmt(row[c]) for c in cols])
    console.print(groups)
    bands = Table(title="calibration against published figures")
    for c in ("metric", "group", "published", "band", "measured", ""):
        bands.add_column(c)
    for b, value, ok in check(stats):
        note = "ok" if ok else "OUT"
        if b.metric in MONTHLY and prov["days"] < 28:
            note += " (needs ~30 days)"
        bands.add_row(b.metric, b.group, _fmt(b.published), f"{_fmt(b.lo)}–{_fmt(b.hi)}",
                      _fmt(value), note)
    console.print(bands)
    roles = ", ".join(f"{r} {n:,}" for r, n in stats["roles"].items())
    console.print(f"numbers by role (truth): {roles}")
    params = drawn(directory)
    if params:
        t = Table(title="drawn from the prior (docs/world.md)")
        for c in ("parameter", "value", "range", "scale"):
            t.add_column(c)
        for e, value in params:
            t.add_row(e.key, _fmt(value), f"{_fmt(e.lo)}–{_fmt(e.hi)}", e.scale)
        console.print(t)


@world_app.command("prior")
def prior_cmd(
    markdown: Annotated[bool, typer.Option(help="Print the Markdown of docs/world.md.")] = False,
) -> None:
    """The prior randomised provinces are drawn from: each parameter's range and source."""
    if markdown:
        typer.echo(prior_markdown(), nl=False)
        return
    t = Table(title="the prior (telshield world generate --randomise)")
    for c in ("parameter", "range", "scale", "source"):
        t.add_column(c, overflow="fold")
    for e in prior_entries():
        t.add_row(e.key, f"{_fmt(e.lo)}–{_fmt(e.hi)}", e.scale, e.source)
    console.print(t)


def _fmt(v: float | int | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, int) or float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:.3g}"


def register(app: typer.Typer) -> None:
    """Add ``world generate``, ``world describe`` and ``world prior`` to the CLI."""
    app.add_typer(world_app, name="world")
