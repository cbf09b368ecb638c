"""``telshield hotspots``: out-of-town concentration hotspots (外地号码聚集), and ``telshield
evaluate hotspots`` against the simulator's truth."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    EngineOption,
    command_group,
    existing_data,
    feed_time,
    settings_from,
    table,
    whole,
)
from telshield.cli.users import ActorOption, default_actor
from telshield.domain.errors import InvalidInput
from telshield.domain.hotspots import Hotspot, hotspot_ref, parse_ref
from telshield.domain.paging import Page
from telshield.services.hotspots import HotspotService

console = Console()
hotspots_app = command_group(help="Out-of-town concentration hotspots (外地号码聚集): find, list, "
                           "show.", no_args_is_help=True)


def _service(config: Path | None, data_dir: Path | None, engine: str | None = "duckdb"
             ) -> HotspotService:
    """The hotspot service; ``engine`` runs ``find``'s scan queries (None: ``[engine] name``).
    Listing and showing read the store only, and start no Spark session."""
    from telshield import wiring
    from telshield.wiring.hotspots import hotspots

    settings = existing_data(config, data_dir)
    return hotspots(settings, wiring.open_store(settings), engine=engine)


def _table(items: list[Hotspot]) -> None:
    t = table(whole("hotspot"), "county", "window (CST)", "numbers", "observed", "expected",
              "factor", "p-value", "lat, lon", "status")
    for h in items:
        t.add_row(hotspot_ref(int(h.id or 0)), h.region,
                  f"{h.window_start:%m-%d %H:%M} .. {h.window_end:%m-%d %H:%M}",
                  str(len(h.numbers)) if h.numbers else "", str(h.observed), f"{h.expected:.2f}",
                  f"{h.factor:.1f}x", f"{h.p_value:.3f}", f"{h.lat:.4f}, {h.lon:.4f}", h.status)
    console.print(t)


@hotspots_app.command("find")
def find_cmd(
    until: Annotated[str, typer.Option(help="Scan the period ending here (CST) [default: "
                                       "just after the last call in the lake].")] = "",
    actor: ActorOption = "", engine: EngineOption = None, data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Scan counties for out-of-province suspicious numbers gathering against their own
    baseline, and store the alerts (a county's continuing hotspot is updated)."""
    r = _service(config, data_dir, engine).find(actor=actor or default_actor(),
                                        until=feed_time("--until", until))
    console.print(f"scan up to {r.until:%Y-%m-%d %H:%M}: {r.suspects:,} suspicious "
                  f"out-of-province numbers over {r.regions} counties; {len(r.hotspots)} "
                  f"hotspot(s): {r.new} new")
    if r.hotspots:
        _table(list(r.hotspots))


@hotspots_app.command("list")
def list_cmd(
    since: Annotated[str, typer.Option(help="Only hotspots whose window ends from (CST).")] = "",
    county: Annotated[str, typer.Option(help="Only this city/county (e.g. Nanjing/Liuhe).")
                      ] = "",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """Stored hotspots, latest first."""
    _table(_service(config, data_dir).list(since=feed_time("--since", since), region=county or None,
                                           page=Page(limit=limit)))


@hotspots_app.command("show")
def show_cmd(hotspot: str, data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """One hotspot with its numbers."""
    try:
        hid = parse_ref(hotspot)
    except ValueError as e:
        raise InvalidInput(str(e)) from None
    h = _service(config, data_dir).get(hid)
    _table([h])
    console.print("numbers: " + ", ".join(h.numbers))


def evaluate_hotspots_cmd(
    world: Annotated[Path, typer.Option(help="Folder written by `telshield world generate`.",
                                        exists=True, file_okay=False)],
    step_hours: Annotated[int, typer.Option(help="Feed hours between scans (cycle ticks).")
                          ] = 6,
    engine: EngineOption = None, config: ConfigOption = None,
) -> None:
    """Dens of out-of-province SIMs alerted in their county within 24 h, and false hotspots
    per simulated week, against truth."""
    from telshield import wiring
    from telshield.evaluate.hotspots import judge, read_dens
    from telshield.wiring.hotspots import hotspots

    dens = read_dens(world)
    clock = _FeedClock()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from(config, Path(tmp))
        store = wiring.open_store(settings)
        svc = hotspots(settings, store, clock=clock, lake=world, engine=engine)
        calls = svc.reader.table("calls")
        first = calls.started_at.min().to_pyarrow().as_py()
        end = svc.latest()
        t = datetime(first.year, first.month, first.day) + timedelta(hours=step_hours)
        start = t
        while t <= end + timedelta(hours=step_hours - 1):
            clock.at = t
            runs.append(svc.find(actor="evaluate", until=t).hotspots)
            t += timedelta(hours=step_hours)
        store_dispose = getattr(store, "dispose", None)
        if store_dispose is not None:
            store_dispose()
    rep = judge(runs, dens, days=(t - start).total_seconds() / 86400)
    console.print(f"[bold]hotspots[/] {world}: {len(runs)} scans every {step_hours} h, "
                  f"{rep.days:.1f} days")
    m = table("metric", "value")
    m.add_row("dens of out-of-province SIMs alerted within 24 h",
              f"{rep.caught_share:.0%} ({sum(d.in_time for d in rep.dens)}/{len(rep.dens)})")
    m.add_row("hotspots raised", str(rep.hotspots))
    m.add_row("false hotspots per simulated week",
              f"{rep.false_per_week:.2f} ({len(rep.false_hotspots)}: "
              f"{', '.join(rep.false_hotspots) or 'none'})")
    console.print(m)
    d = table("den", "county", "members", "start (CST)", "alerted (CST)", "delay h")
    for r in rep.dens:
        d.add_row(r.den.den_id, r.den.region, str(r.den.members), f"{r.den.start:%m-%d %H:%M}",
                  f"{r.caught_at:%m-%d %H:%M}" if r.caught_at else "never",
                  f"{r.delay_h:.1f}" if r.delay_h is not None else "")
    console.print(d)


class _FeedClock:
    """Store time follows the replay's feed time."""

    at = datetime(2000, 1, 1)

    def now(self) -> datetime:
        return self.at


def register(app: typer.Typer) -> None:
    """Add ``telshield hotspots`` and ``telshield evaluate hotspots``."""
    from telshield.cli.evaluate import evaluate_app

    evaluate_app.command("hotspots")(evaluate_hotspots_cmd)
    app.add_typer(hotspots_app, name="hotspots")
