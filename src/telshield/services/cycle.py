"""The operating cycle: what the platform does every tick, in order.

1. **clues** — police clues reported since the last tick become police-ordered blocks;
   **bundles** — when on (``[clues] bundles_in_cycle``), each new clue's number is traced and
   the numbers tied to it are proposed as one disposal bundle for an analyst
   (``services.bundles``; nothing is disposed until an analyst confirms);
2. **escalate** — verifications and restrictions past their deadline are suspended, and police
   requests still open past their SLA are escalated (``services.police``), once each;
3. **detect** — when due, detection scores the numbers with new calls; its alerts open or update
   cases and the disposal policy acts on them (in shadow mode, before ``shadow_until``, they are
   kept aside and act on nothing);
4. **devices** — the IMEIs barred numbers used are blacklisted;
5. **publish** — the screening snapshot of the moment is published; the faces follow it;
6. **hotspots** — when on (``[hotspots] in_cycle``), the out-of-town concentration scan
   (``services.hotspots``) runs at the tick's moment; its alerts are stored and audited;
7. **dens** — when on (``[dens] in_cycle``) and due (``[dens] every``), the GOIP den finder
   (``services.dens``) reads the calls of its window ending at the tick's moment and stores the
   dens it finds, each with its audit event (a known den is updated in place); nothing is
   disposed (a den's bulk disposal stays an analyst's action);
8. **gangs** — when on (``[gangs] in_cycle``) and due (``[gangs] every``), the card-trafficking
   gang finder (``services.gangs``) does the same over the registrations of its window;
9. **checkpoint** — with an installation secret, the audit chain's head is appended, signed, to
   a checkpoint file outside the store (``services.audit``).

Each step commits on its own and is idempotent for a given moment, so a tick that dies half-way
(a crash, SIGKILL, a lost database) leaves the store consistent, and the next tick simply does
every step again: a clue is blocked once, an alert updates its number's one open alert, an IMEI
is listed once, a snapshot is published whole or not at all, a den or gang found again keeps
its one record. The cycle's own state (when clues, bundles, detection, dens, gangs and the last
tick were done) is written after the step it describes has committed.
A stop request (SIGTERM) is honoured between steps.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import structlog

from telshield.domain.alerts import Alert
from telshield.domain.clock import FeedTime
from telshield.services.alerts import AlertSink
from telshield.services.cases import CaseService
from telshield.services.devices import DeviceBarring
from telshield.services.liaison import Liaison
from telshield.services.snapshot import SnapshotService

log = structlog.get_logger(__name__)

STEPS = ("clues", "bundles", "escalate", "detect", "devices", "publish", "hotspots", "dens",
         "gangs", "checkpoint")

# A finder run in the cycle: the moment its window ends at -> (records new, records updated).
Finder = Callable[[datetime], tuple[int, int]]


class DetectionRun(Protocol):
    """What one detection run returns: how many numbers it scored, and its alerts."""

    @property
    def scored(self) -> int:
        """Numbers scored."""
        ...

    @property
    def alerts(self) -> Sequence[Alert]:
        """Alerts raised (one per number over the watch threshold)."""
        ...


class Detection(Protocol):
    """Scores numbers from the calls up to a moment."""

    def run(self, until: FeedTime, *, since: FeedTime | None) -> DetectionRun:
        """Score the numbers with calls in [since, until) (all active numbers when ``since`` is
        None) on the windows ending at ``until``."""
        ...


@dataclass(frozen=True)
class CycleOptions:
    """How the cycle runs."""

    detect_every: timedelta = timedelta(hours=1)
    dens_every: timedelta = timedelta(hours=6)  # between den finds
    gangs_every: timedelta = timedelta(days=1)  # between gang finds
    shadow_until: datetime | None = None  # alerts before this act on nothing (going live)


@dataclass(frozen=True)
class CycleState:
    """What the cycle has done: clues up to, the last detection run, the last den and gang
    finds, the last whole tick."""

    clues_until: datetime | None = None
    bundles_until: datetime | None = None
    detected_until: datetime | None = None
    dens_until: datetime | None = None
    gangs_until: datetime | None = None
    last_tick: datetime | None = None


class StateFile:
    """The cycle's state as a small JSON file, replaced atomically (write, fsync, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> CycleState:
        """The saved state (empty when none was saved)."""
        if not self.path.exists():
            return CycleState()
        raw = json.loads(self.path.read_text())
        return CycleState(**{k: datetime.fromisoformat(v) if v else None
                             for k, v in raw.items() if k in CycleState.__dataclass_fields__})

    def save(self, state: CycleState) -> None:
        """Replace the saved state."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with tmp.open("w") as f:
            json.dump({k: v.isoformat() if v else None for k, v in asdict(state).items()}, f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)


@dataclass
class TickResult:
    """What one tick did, step by step."""

    at: datetime
    clues: int = 0  # police-ordered blocks added
    bundles: int = 0  # clue bundles proposed
    escalated: int = 0  # cases suspended past their deadline
    police_escalated: int = 0  # police requests newly past their SLA
    detected: bool = False  # detection ran this tick
    scored: int = 0
    alerts: int = 0
    shadow: bool = False  # the alerts were kept aside (shadow mode)
    opened: int = 0  # cases opened
    acted: dict[str, int] = field(default_factory=dict)  # policy actions by kind
    devices: int = 0  # IMEIs newly blacklisted
    snapshot: str = ""  # the published version
    hotspots: int = 0  # hotspot alerts raised or updated
    dens: int = 0  # dens newly found
    dens_updated: int = 0  # known dens found again, updated in place
    gangs: int = 0  # gangs newly found
    gangs_updated: int = 0  # known gangs found again, updated in place
    seconds: dict[str, float] = field(default_factory=dict)
    stopped: bool = False  # a stop was requested: the remaining steps were not run

    @property
    def complete(self) -> bool:
        """Whether every step ran."""
        return not self.stopped


class Cycle:
    """One tick of the platform, step by step; see the module docstring."""

    def __init__(
        self, *, liaison: Liaison, cases: CaseService, detection: Detection,
        snapshots: SnapshotService, state: StateFile, devices: DeviceBarring | None = None,
        shadow: AlertSink | None = None, options: CycleOptions = CycleOptions(),
        stop: Callable[[], bool] = lambda: False,
        checkpoint: Callable[[], object] | None = None,
        hotspots: Callable[[datetime], int] | None = None,
        police_escalate: Callable[[], int] | None = None,
        bundles: Callable[[datetime | None, datetime], int] | None = None,
        dens: Finder | None = None, gangs: Finder | None = None,
    ) -> None:
        self.liaison, self.cases, self.detection = liaison, cases, detection
        self.snapshots, self.state, self.devices = snapshots, state, devices
        self.shadow, self.options, self.stop = shadow, options, stop
        self.checkpoint = checkpoint  # anchors the audit chain's head outside the store
        self.hotspots = hotspots  # the hotspot scan at a moment: how many alerts it raised
        self.police_escalate = police_escalate  # police requests past their SLA: how many
        self.bundles = bundles  # clue bundles for clues in [since, until): how many proposed
        self.dens = dens  # the den finder at a moment: dens new and updated
        self.gangs = gangs  # the gang finder at a moment: gangs new and updated

    def detection_due(self, at: datetime) -> bool:
        """Whether detection runs at ``at`` (never run, or ``detect_every`` has passed)."""
        last = self.state.load().detected_until
        return last is None or at - last >= self.options.detect_every

    def finder_due(self, at: datetime, last: datetime | None, every: timedelta) -> bool:
        """Whether a finder last run at ``last`` runs again at ``at`` (never run, or ``every``
        has passed; never twice at one moment)."""
        return last is None or (at > last and at - last >= every)

    def tick(self, at: FeedTime, *, detect: bool | None = None) -> TickResult:
        """Run every step at ``at`` (feed time); ``detect`` forces detection on or off (None:
        when due). A stop request is honoured between steps."""
        result = TickResult(at)
        steps: list[tuple[str, Callable[[TickResult], None]]] = [("clues", self._clues)]
        if self.bundles is not None:
            steps.append(("bundles", self._bundles))
        steps += [
            ("escalate", self._escalate),
            ("detect", self._detect if (self.detection_due(at) if detect is None else detect)
             else _skip),
            ("devices", self._devices), ("publish", self._publish),
        ]
        if self.hotspots is not None:
            steps.append(("hotspots", self._hotspots))
        if self.dens is not None:
            steps.append(("dens", self._dens))
        if self.gangs is not None:
            steps.append(("gangs", self._gangs))
        if self.checkpoint is not None:
            steps.append(("checkpoint", self._checkpoint))
        for name, step in steps:
            if self.stop():
                result.stopped = True
                log.info("cycle.stopped", at=at.isoformat(), before=name)
                break
            t = time.perf_counter()
            step(result)
            result.seconds[name] = round(time.perf_counter() - t, 3)
        if not result.stopped:
            self.state.save(replace(self.state.load(), last_tick=at))
        log.info("cycle.tick", at=at.isoformat(), clues=result.clues, bundles=result.bundles,
                 escalated=result.escalated, detected=result.detected, scored=result.scored,
                 alerts=result.alerts, shadow=result.shadow, opened=result.opened,
                 acted=result.acted, devices=result.devices, snapshot=result.snapshot,
                 hotspots=result.hotspots, dens=result.dens, dens_updated=result.dens_updated,
                 gangs=result.gangs, gangs_updated=result.gangs_updated,
                 seconds=result.seconds, complete=result.complete)
        return result

    def publish(self, at: datetime) -> str:
        """Publish the snapshot of ``at`` alone (``telshield screen build --from-store``)."""
        return self.snapshots.publish(at)

    # -- the steps -------------------------------------------------------------------------

    def _clues(self, r: TickResult) -> None:
        state = self.state.load()
        since = state.clues_until
        if since is not None and since >= r.at:
            return
        r.clues = self.liaison.block_clues(since, r.at).blocked
        self.state.save(replace(self.state.load(), clues_until=r.at))

    def _bundles(self, r: TickResult) -> None:
        assert self.bundles is not None
        since = self.state.load().bundles_until
        if since is not None and since >= r.at:
            return
        r.bundles = self.bundles(since, r.at)
        self.state.save(replace(self.state.load(), bundles_until=r.at))

    def _escalate(self, r: TickResult) -> None:
        r.escalated = sum(self.cases.escalate_overdue().values())
        if self.police_escalate is not None:
            r.police_escalated = self.police_escalate()

    def _detect(self, r: TickResult) -> None:
        last = self.state.load().detected_until
        run = self.detection.run(r.at, since=last if last is not None and last < r.at else None)
        alerts = list(run.alerts)
        r.detected, r.scored, r.alerts = True, run.scored, len(alerts)
        shadow = self.options.shadow_until
        if shadow is not None and r.at < shadow:
            r.shadow = True
            if self.shadow is not None:
                self.shadow.upsert(alerts)
        elif alerts:
            policy = self.cases.intake(alerts)
            r.opened, r.acted = policy.opened, policy.acted
        self.state.save(replace(self.state.load(), detected_until=r.at))

    def _devices(self, r: TickResult) -> None:
        if self.devices is not None:
            r.devices = self.devices.run(r.at).devices

    def _hotspots(self, r: TickResult) -> None:
        assert self.hotspots is not None
        r.hotspots = self.hotspots(r.at)

    def _dens(self, r: TickResult) -> None:
        assert self.dens is not None
        if not self.finder_due(r.at, self.state.load().dens_until, self.options.dens_every):
            return
        r.dens, r.dens_updated = self.dens(r.at)
        self.state.save(replace(self.state.load(), dens_until=r.at))

    def _gangs(self, r: TickResult) -> None:
        assert self.gangs is not None
        if not self.finder_due(r.at, self.state.load().gangs_until, self.options.gangs_every):
            return
        r.gangs, r.gangs_updated = self.gangs(r.at)
        self.state.save(replace(self.state.load(), gangs_until=r.at))

    def _checkpoint(self, r: TickResult) -> None:
        assert self.checkpoint is not None
        self.checkpoint()

    def _publish(self, r: TickResult) -> None:
        r.snapshot = self.snapshots.publish(r.at)


def _skip(_: TickResult) -> None:
    """A step that does nothing this tick (detection not due)."""
