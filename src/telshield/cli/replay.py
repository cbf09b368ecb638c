"""``telshield evaluate replay``: the whole system replayed over a simulated province."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from telshield.cli.common import ConfigOption, DataDirOption, settings_from

console = Console()


def replay_cmd(
    world: Annotated[Path, typer.Option(help="Folder written by `telshield world generate`.",
                                        exists=True, file_okay=False)],
    detect_every: Annotated[int | None, typer.Option(
        min=1, help="Run detection every N simulated hours (default: the cycle's "
        "`detect_every` setting, as the platform runs it; 1h unless configured).")] = None,
    hours: Annotated[int | None, typer.Option(
        min=1, help="Replay only the first N hours (default: the whole period).")] = None,
    model: Annotated[bool, typer.Option(
        help="Score with the latest trained model as well as the rules.")] = False,
    ingest: Annotated[bool, typer.Option(
        help="Ingest the world into a lake first (else detection reads its folders).")] = True,
    protect_victims: Annotated[bool, typer.Option(
        help="Warn callees of numbers under warning (victim protection).")] = True,
    device_rule: Annotated[bool, typer.Option(
        help="Bar calls from GOIP / SIM-bank devices (caller IMEI TAC in device_intel).")] = True,
    device_barring: Annotated[bool, typer.Option(
        help="Blacklist the IMEIs barred numbers used (the next SIM in the phone is rejected)."
    )] = True,
    reverify: Annotated[bool, typer.Option(
        help="Honest owners complete a real-name re-verification when a measure asks them to, "
        "after the hours the simulator's truth gives (as their BSS would report it).")] = True,
    live_roaming: Annotated[bool, typer.Option(
        help="Give the screening faces the roaming feed's location updates as they happen "
        "(as `telshield screen location-updates` does), not only with each hour's snapshot."
    )] = True,
    carrier_check: Annotated[bool, typer.Option(
        help="Give screening the carrier whose trunk handed each interconnect call over (the "
        "calls feed's ingress_carrier), so that a mobile from a carrier that does not serve "
        "it is refused.")] = True,
    warmup_hours: Annotated[int, typer.Option(
        min=0, help="Go live after N hours: until then detection runs in shadow mode (its "
        "alerts do not act) and calls are not judged.")] = 72,
    outcomes: Annotated[Path | None, typer.Option(
        help="Write every call's outcome, reasons and route class to this Parquet file.",
        dir_okay=False)] = None,
    check: Annotated[bool, typer.Option(
        help="Exit with status 1 when the bar (≥ 95% / ≤ 0.01%) is not met.")] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Screen each hour's calls with that moment's snapshot, detect, dispose and list, hour by
    hour: per route class, fraud calls intercepted, legitimate calls blocked, time to block."""
    from rich.progress import Progress

    from telshield.evaluate.replay_run import ReplayOptions, run_replay, work_dir

    settings = settings_from(config, data_dir)
    opts = ReplayOptions(detect_every=detect_every, hours=hours, use_model=model,
                         ingest=ingest, protect_victims=protect_victims,
                         device_rule=device_rule, device_barring=device_barring,
                         outcomes=outcomes, warmup_hours=warmup_hours, reverify=reverify,
                         live_roaming=live_roaming, carrier_check=carrier_check)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("replaying simulated hours", total=None)
        r = run_replay(settings, world, work_dir(settings, world), opts,
                       progress=lambda done, total: bar.update(task, completed=done, total=total))
    console.print(
        f"[bold]replay[/] {r.period[0]:%Y-%m-%d %H:%M} .. {r.period[1]:%Y-%m-%d %H:%M}, "
        f"{r.hours} hours, detection every {r.detect_every} h ({r.detection_runs} runs, "
        f"{r.alerts:,} alerts); police clues listed {r.police_entries}; devices barred "
        f"{r.barred_devices:,}; measures lifted by re-verification {r.reverified:,}; cases "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(r.cases.items()))
    )
    t = Table("route", "fraud calls", "intercepted", "warned", "before alert", "legit calls",
              "legit blocked", "fraud numbers blocked", "median min to block",
              title="interception by route")
    for x in r.routes:
        t.add_row(x.route.replace("+", " + "), f"{x.fraud_calls:,}", _pct(x.intercepted_share),
                  _pct(x.warned / x.fraud_calls if x.fraud_calls else float("nan")),
                  _pct(x.before_alert / x.fraud_calls if x.fraud_calls else float("nan")),
                  f"{x.legit_calls:,}", _pct(x.blocked_share, 4),
                  f"{x.fraud_numbers_blocked:,} / {x.fraud_numbers:,}",
                  "n/a" if x.median_minutes_to_block != x.median_minutes_to_block
                  else f"{x.median_minutes_to_block:,.0f}")
    console.print(t)
    console.print("intercepted = rejected; warned = connected with a label or a callee warning; "
                  "before alert = placed before detection had alerted on the number")
    if r.figures is not None:
        f = r.figures
        console.print(
            f"period figures (as the overview and `telshield police report` count them, "
            f"{f.start:%Y-%m-%d %H:%M} .. {f.end:%Y-%m-%d %H:%M} UTC): warned {f.warned:,} ("
            + ", ".join(f"{k} {v:,}" for k, v in f.by_tier.items())
            + f"), disposed {f.disposed:,}, released {f.released:,}, appeals filed "
            f"{sum(f.appeals.values()):,}, SLA breaches {f.sla_breaches:,}; calls screened "
            f"{f.screened:,}, rejected {f.rejected:,}")
    console.print(f"route classes (numbering plan + ingress) agree with truth on "
                  f"{r.route_agreement:.2%} of calls")
    console.print("reasons: " + ", ".join(f"{k} {v:,}" for k, v in list(r.reasons.items())[:8]))
    verdict = "[green]met[/]" if r.meets_bar else "[red]not met[/]"
    console.print(f"bar (≥ 95% intercepted on each barred route, ≤ 0.01% legit blocked): {verdict}")
    if check and not r.meets_bar:
        raise typer.Exit(1)


def _pct(x: float, digits: int = 1) -> str:
    return "n/a" if x != x else f"{x:.{digits}%}"
