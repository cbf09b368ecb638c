"""``telshield run``: the operating cycle as a long-running process.

Each tick: ingest the files dropped under ``--watch`` (one folder per feed), then police clues
→ escalations → detection → disposal → device barring → publish the screening snapshot. A tick
that fails is logged and done again by the next one; SIGTERM (or Ctrl-C) finishes the step in
progress and exits. ``--start`` runs ticks on a simulated clock, back to back, for back-fills,
demonstrations and tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import signal
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import structlog
import typer
from rich.console import Console

from telshield.cli.common import ConfigOption, DataDirOption, InitOption, existing_data
from telshield.domain.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from telshield.services.cycle import TickResult
    from telshield.services.inbox import InboxResult

console = Console()
log = structlog.get_logger(__name__)


def _time(text: str, what: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not 'YYYY-MM-DD HH:MM[:SS]'") from None


class _Stop:
    """Set by SIGTERM / SIGINT; the cycle looks at it between steps."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def handle(self, signum: int, _frame: Any) -> None:
        """A signal handler that asks the cycle to stop after the current step."""
        log.info("run.stop_requested", signal=signal.Signals(signum).name)
        self.requested = True


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """Hold the cycle's lock: two cycles on one store would double their work."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "run.lock").open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(f"another `telshield run` holds {folder / 'run.lock'}: run one cycle "
                           "per data directory") from None
        yield


class _Metrics:
    """Prometheus metrics of the cycle, on their own registry and port."""

    def __init__(self, host: str, port: int) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

        self.registry = r = CollectorRegistry()
        self.ticks = Counter("telshield_cycle_ticks", "Ticks by result", ["result"], registry=r)
        self.last = Gauge("telshield_cycle_last_tick_timestamp_seconds",
                          "Wall-clock time the last complete tick ended", registry=r)
        self.step = Gauge("telshield_cycle_step_seconds", "Duration of each step of the last "
                          "tick", ["step"], registry=r)
        self.events = Counter("telshield_cycle_events", "What ticks did, by kind", ["kind"],
                              registry=r)
        self.inbox_files = Counter("telshield_cycle_inbox_files", "Dropped files by result",
                                   ["result"], registry=r)
        if port:
            start_http_server(port, addr=host, registry=r)

    def tick(self, r: TickResult) -> None:
        """Count a tick that returned."""
        self.ticks.labels("stopped" if r.stopped else "complete").inc()
        if not r.stopped:
            self.last.set(time.time())
        for name, s in r.seconds.items():
            self.step.labels(name).set(s)
        acted = sum(r.acted.values())
        for kind, n in (("clues", r.clues), ("escalated", r.escalated), ("scored", r.scored),
                        ("alerts", r.alerts), ("opened", r.opened), ("acted", acted),
                        ("devices", r.devices), ("dens", r.dens), ("gangs", r.gangs)):
            self.events.labels(kind).inc(n)

    def inbox(self, r: InboxResult) -> None:
        """Count the dropped files a tick ingested."""
        self.inbox_files.labels("failed").inc(r.failed)
        self.inbox_files.labels("ingested").inc(len(r.files) - r.failed)
        self.events.labels("rows_added").inc(r.added)


def run_cmd(
    every: Annotated[str | None, typer.Option(
        help="Time between ticks, e.g. 1h or 30m (default: setting cycle.every).")] = None,
    watch: Annotated[Path | None, typer.Option(
        help="Drop folder with one sub-folder per feed; new files are ingested each tick "
        "(default: setting cycle.watch_dir).", file_okay=False)] = None,
    start: Annotated[str | None, typer.Option(
        help="Simulated clock: the first tick at this feed time (CST); ticks run back to back "
        "without waiting.")] = None,
    ticks: Annotated[int, typer.Option(
        min=0, help="Stop after N ticks (0 = keep going).")] = 0,
    shadow_until: Annotated[str | None, typer.Option(
        help="Detection in shadow mode (its alerts act on nothing) until this feed time.")
    ] = None,
    init: InitOption = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the operating cycle: ingest dropped feed files, block police clues, escalate, detect,
    dispose, bar devices and publish the screening snapshot, every tick."""
    from telshield.domain.clock import feed_now, feed_to_store
    from telshield.services.store import FixedClock
    from telshield.wiring.cycle import platform, span, state_dir
    from telshield.wiring.security import refuse_placeholder

    settings = existing_data(config, data_dir, init=init)
    step = span(every or settings.cycle.every, "--every")
    simulated = start is not None
    if not simulated:  # a simulated clock is a trial run; the real clock is production
        refuse_placeholder(settings, "run the operating cycle on the real clock")
    at = _time(start, "--start") if start is not None else feed_now()
    # A simulated clock: the store's clock follows the ticks, in store time (docs/time.md).
    clock = FixedClock(feed_to_store(at)) if simulated else None
    stop = _Stop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop.handle)
    with _exclusive(state_dir(settings)):
        p = platform(settings, clock=clock, watch=watch, stop=stop,
                     shadow_until=_time(shadow_until, "--shadow-until") if shadow_until else None)
        c = settings.cycle
        metrics = _Metrics(c.metrics_host, c.metrics_port)
        if p.inbox is not None:
            console.print(f"watching {p.inbox.root} for feed files")
        done = failed = 0
        ok = True
        while not stop():
            if clock is not None:
                clock.at = feed_to_store(at)
            ok = _one_tick(p, at, metrics)
            done, failed = done + 1, failed + (not ok)
            if ticks and done >= ticks:
                break
            at = at + step if simulated else _wait(at + step, stop)
    if failed and not ok:
        raise typer.Exit(1)


def _one_tick(p: Any, at: datetime, metrics: _Metrics) -> bool:
    """Collect dropped files and tick at ``at``; a failure is logged and counted, not raised."""
    try:
        if p.inbox is not None:
            got = p.inbox.collect()
            metrics.inbox(got)
            if got.files:
                console.print(f"  ingested {len(got.files) - got.failed} file(s), "
                              f"{got.added:,} rows added, {got.quarantined:,} quarantined, "
                              f"{got.failed} failed")
        r = p.cycle.tick(at)
    except Exception as e:  # a failed tick is done again by the next one: keep running
        metrics.ticks.labels("failed").inc()
        log.exception("cycle.tick_failed", at=at.isoformat(), error=str(e))
        console.print(f"[red]{at:%Y-%m-%d %H:%M}  tick failed:[/] {e}")
        return False
    metrics.tick(r)
    acted = ", ".join(f"{k} {v}" for k, v in sorted(r.acted.items()))
    detect = (f"scored {r.scored:,}, alerts {r.alerts:,}" + (" (shadow)" if r.shadow else
              f", cases opened {r.opened:,}" + (f", {acted}" if acted else ""))
              if r.detected else "not due")
    found = "".join(f"{what} {new} new, {updated} updated  " for what, new, updated in (
        ("dens", r.dens, r.dens_updated), ("gangs", r.gangs, r.gangs_updated)) if new + updated)
    console.print(f"[bold]{at:%Y-%m-%d %H:%M}[/]  clues {r.clues}  escalated {r.escalated}  "
                  f"detection {detect}  devices {r.devices}  snapshot {r.snapshot or '-'}  "
                  f"{found}{sum(r.seconds.values()):.1f} s" + ("  [yellow]stopped[/]"
                                                                if r.stopped else ""))
    return True


def _wait(until: datetime, stop: _Stop) -> datetime:
    """Sleep until the feed time ``until`` (or a stop request); returns the time then."""
    from telshield.domain.clock import feed_now

    while not stop() and feed_now() < until:
        time.sleep(min(1.0, max(0.05, (until - feed_now()) / timedelta(seconds=1))))
    return feed_now()


def register(app: typer.Typer) -> None:
    """Add ``run`` to the CLI."""
    app.command("run")(run_cmd)
