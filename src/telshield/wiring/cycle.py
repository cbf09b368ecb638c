"""Composition of the operating cycle: liaison, cases, detection, device barring, the snapshot
service and its publisher, and the drop folder, all from one ``Settings``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from telshield.domain.alerts import Alert
from telshield.domain.clock import feed_now
from telshield.domain.errors import InvalidInput
from telshield.screening.snapshot import SnapshotInput
from telshield.services.alerts import InMemoryAlertSink
from telshield.services.cycle import Cycle, CycleOptions, Finder, StateFile
from telshield.services.detection import Detector, Whitelist
from telshield.services.inbox import Inbox
from telshield.services.lakeread import FeedReader
from telshield.services.liaison import Liaison
from telshield.services.snapshot import SnapshotOptions, SnapshotService
from telshield.services.store import Clock
from telshield.settings import Settings
from telshield.wiring.disposal import Disposal, device_barring, disposal
from telshield.wiring.ingest import watch_options
from telshield.wiring.screening import screening_plan, snapshot_dir

if TYPE_CHECKING:  # loaded by the finders' wiring only when a finder is on
    from telshield.services.dens import DenService
    from telshield.services.gangs import GangService

log = structlog.get_logger(__name__)


def span(text: str, what: str) -> timedelta:
    """A duration like ``30m``, ``1h`` or ``1d`` from settings, with a clear error."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    t = text.strip()
    if len(t) < 2 or t[-1] not in units or not t[:-1].isdigit() or int(t[:-1]) <= 0:
        raise InvalidInput(f"{what} {text!r} is not a duration like 30m, 1h or 1d")
    return timedelta(**{units[t[-1]]: int(t[:-1])})


def state_dir(settings: Settings) -> Path:
    """Where the cycle keeps its state."""
    return settings.cycle.state_dir or settings.data_dir / "cycle"


class FolderPublisher:
    """Publishes snapshot inputs to the folder the screening faces follow."""

    def __init__(self, directory: Path, *, keep: int = 3) -> None:
        self.directory, self.keep = directory, keep

    def publish(self, data: SnapshotInput) -> str:
        """Write ``data`` as a new version where the faces look, and drop the location-update
        journal's hours it has long made obsolete; returns its version."""
        from telshield.screening.publish import publish
        from telshield.screening.roaming import LocationJournal

        version = publish(data, self.directory, keep=self.keep)
        LocationJournal(self.directory).prune(data.as_of)
        return version


@dataclass(frozen=True)
class _Run:
    scored: int
    alerts: Sequence[Alert]


class StatelessDetection:
    """A detector run over the numbers active in [since, until), keeping no state of its own
    (the cycle keeps it, after the alerts have committed)."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector

    def run(self, until: datetime, *, since: datetime | None) -> _Run:
        """Score and alert, as ``Detector.run`` does, without touching a sink or a state file."""
        d = self.detector
        frame = d.score(d.features(until, since))
        return _Run(len(frame), d.alerts(frame, until))


def detection(settings: Settings, *, clock: Clock, lake: Path | None = None,
              use_model: bool | None = None, whitelist: Whitelist | None = None
              ) -> StatelessDetection:
    """The detector the cycle runs (rules, and the chosen lake model when asked), reading
    ``lake`` and capped by ``whitelist`` (the store's enterprise whitelist); the cycle keeps its
    state, so the detector keeps none."""
    from telshield.wiring.detection import detector

    return StatelessDetection(detector(
        settings, lake=lake, clock=clock.now, keep_state=False,
        use_model=settings.cycle.use_model if use_model is None else use_model,
        whitelist=whitelist))


def snapshot_service(settings: Settings, d: Disposal, reader: FeedReader) -> SnapshotService:
    """The snapshot service over the store's lists and cases and a lake, publishing where the
    screening faces look."""
    c = settings.cycle
    return SnapshotService(
        d.lists, d.cases, reader, FolderPublisher(snapshot_dir(settings), keep=c.keep_snapshots),
        plan=screening_plan(settings),
        options=SnapshotOptions(protect_victims=c.protect_victims, protect_days=c.protect_days,
                                device_classes=c.device_classes, roaming_days=c.roaming_days))


def publish_from_store(settings: Settings, at: datetime) -> SnapshotInput:
    """Build the snapshot of ``at`` (feed time) from the store and the lake and publish it
    (``telshield screen build --from-store``); returns what was published."""
    d = disposal(settings)
    svc = snapshot_service(settings, d, FeedReader(settings.lake_dir))
    data = svc.build(at)
    svc.publisher.publish(data)
    return data


@dataclass(frozen=True)
class Platform:
    """The operating cycle and what it runs on."""

    disposal: Disposal
    cycle: Cycle
    snapshots: SnapshotService
    reader: FeedReader
    inbox: Inbox | None
    shadow: InMemoryAlertSink


def platform(
    settings: Settings, *, clock: Clock | None = None, lake: Path | None = None,
    shadow_until: datetime | None = None, watch: Path | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> Platform:
    """Everything ``telshield run`` and the replay tick with, from the settings."""
    c = settings.cycle
    root = lake or settings.lake_dir
    d = disposal(settings, clock=clock, lake=root)
    reader = FeedReader(root)
    snapshots = snapshot_service(settings, d, reader)
    shadow = InMemoryAlertSink()
    cycle = Cycle(
        liaison=Liaison(d.lists, reader), cases=d.cases,
        detection=detection(settings, clock=d.cases.clock, lake=root, whitelist=d.lists),
        snapshots=snapshots, state=StateFile(state_dir(settings) / "state.json"),
        devices=device_barring(settings, d, reader), shadow=shadow,
        options=CycleOptions(detect_every=span(c.detect_every, "cycle.detect_every"),
                             dens_every=span(settings.dens.every, "dens.every"),
                             gangs_every=span(settings.gangs.every, "gangs.every"),
                             shadow_until=shadow_until),
        stop=stop,
        checkpoint=audit_checkpointer(settings, d),
        hotspots=hotspot_scan(settings, d, root),
        police_escalate=police_escalation(settings, d, root),
        bundles=clue_bundles(settings, d, root),
        dens=den_finder(settings, d, root),
        gangs=gang_finder(settings, d, root),
    )
    folder = watch or c.watch_dir
    inbox = None
    if folder is not None:
        inbox = Inbox(folder, replace(watch_options(settings), lake_dir=root),
                      settle_s=c.settle_seconds, now=feed_now)
    return Platform(d, cycle, snapshots, reader, inbox, shadow)


def police_escalation(settings: Settings, d: Disposal, lake: Path) -> Callable[[], int]:
    """Each tick's escalation of police requests past their SLA (``services.police``)."""
    from telshield.wiring.police import police

    svc = police(settings, d.store, clock=d.cases.clock, lake=lake)
    return lambda: len(svc.escalate(actor="cycle"))


def hotspot_scan(settings: Settings, d: Disposal, lake: Path
                 ) -> Callable[[datetime], int] | None:
    """The hotspot scan each tick runs, when ``[hotspots] in_cycle`` is on, on the ``[engine]``
    detection runs on."""
    if not settings.hotspots.in_cycle:
        return None
    from telshield.wiring.hotspots import hotspots

    svc = hotspots(settings, d.store, clock=d.cases.clock, lake=lake)
    return lambda at: len(svc.find(actor="cycle", until=at).hotspots)


def clue_bundles(settings: Settings, d: Disposal, lake: Path
                 ) -> Callable[[datetime | None, datetime], int] | None:
    """The clue bundles each tick proposes, when ``[clues] bundles_in_cycle`` is on."""
    if not settings.clues.bundles_in_cycle:
        return None
    from telshield.wiring.bundles import bundles

    svc = bundles(settings, d, lake=lake)
    return lambda since, until: svc.propose_clues(since, until, actor="police-liaison").proposed


def den_finder(settings: Settings, d: Disposal, lake: Path) -> Finder | None:
    """The den finder the cycle runs when due, when ``[dens] in_cycle`` is on: it stores and
    audits the dens of its window ending at the tick's moment and disposes of nothing (built
    without the cases service). Without a calls feed yet it finds nothing rather than fail
    every tick."""
    if not settings.dens.in_cycle:
        return None
    from telshield.wiring.dens import dens

    svc = dens(settings, d.store, clock=d.cases.clock, lake=lake, with_cases=False)
    return _finder(svc, "dens", "calls")


def gang_finder(settings: Settings, d: Disposal, lake: Path) -> Finder | None:
    """The gang finder the cycle runs when due, when ``[gangs] in_cycle`` is on: it stores and
    audits the gangs among the cards registered in its window ending at the tick's moment and
    disposes of nothing. Without a subscribers feed yet it finds nothing rather than fail every
    tick."""
    if not settings.gangs.in_cycle:
        return None
    from telshield.wiring.gangs import gangs

    svc = gangs(settings, d.store, clock=d.cases.clock, lake=lake, with_cases=False)
    return _finder(svc, "gangs", "subscribers")


def _finder(svc: DenService | GangService, what: str, feed: str) -> Finder:
    """A finder's step: find up to the tick's moment as actor ``cycle``, or log and find
    nothing while ``feed`` has no file yet."""

    def find(at: datetime) -> tuple[int, int]:
        if not svc.reader.files(feed):
            log.warning(f"cycle.{what}_skipped", at=at.isoformat(), reason=f"no {feed} feed")
            return 0, 0
        r = svc.find(actor="cycle", until=at)
        return r.new, r.updated

    return find


def audit_checkpointer(settings: Settings, d: Disposal) -> Callable[[], object] | None:
    """Each tick anchors the audit chain's head outside the store (None on the placeholder
    secret: a checkpoint would prove nothing)."""
    from telshield.services.audit import write_checkpoint
    from telshield.wiring.security import checkpoint_path

    if not d.audit.keys:
        return None
    path = checkpoint_path(settings)
    return lambda: write_checkpoint(d.audit, path, d.cases.clock.now())
