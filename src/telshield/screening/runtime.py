"""Putting an engine together from settings, and keeping its snapshot fresh while it serves."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import structlog

from telshield.domain.alerts import Tier
from telshield.domain.errors import InvalidInput, Unavailable
from telshield.screening.decisionlog import JsonLinesDecisionLog
from telshield.screening.engine import Engine, EngineConfig
from telshield.screening.files import input_mtime, load_input
from telshield.screening.snapshot import Outcome, Snapshot
from telshield.screening.velocity import VelocityLimits
from telshield.settings import ScreeningSettings, Settings

log = structlog.get_logger(__name__)


def snapshot_dir(settings: Settings) -> Path:
    """Where the snapshot input lives."""
    return settings.screening.snapshot_dir or settings.data_dir / "screening" / "snapshot"


def log_dir(settings: Settings) -> Path:
    """Where the decision log is written."""
    return settings.screening.log_dir or settings.data_dir / "screening" / "decisions"


def engine_config(s: ScreeningSettings) -> EngineConfig:
    """The engine's configuration from the screening settings."""
    try:
        tiers = {
            Tier.WATCH: Outcome(s.tier_watch),
            Tier.VERIFY: Outcome(s.tier_verify),
            Tier.SUSPEND: Outcome(s.tier_suspend),
        }
    except ValueError as e:
        raise InvalidInput(
            f"screening tier outcome: {e}; use one of {[o.value for o in Outcome]}"
        ) from None
    limits = VelocityLimits(
        label_calls_per_minute=s.label_calls_per_minute,
        reject_calls_per_minute=s.reject_calls_per_minute,
        label_callees_per_minute=s.label_callees_per_minute,
        reject_callees_per_minute=s.reject_callees_per_minute,
        label_calls_per_hour=s.label_calls_per_hour,
        reject_calls_per_hour=s.reject_calls_per_hour,
        label_callees_per_hour=s.label_callees_per_hour,
        reject_callees_per_hour=s.reject_callees_per_hour,
        max_callers=s.max_tracked_callers,
        max_pairs=s.max_tracked_pairs,
    )
    return EngineConfig(
        max_age_s=s.max_age_s,
        fail_open=s.fail_open,
        tier_outcomes=tiers,
        velocity=limits,
        log_allowed=s.log_allowed,
    )


def open_engine(settings: Settings, *, with_log: bool = True) -> Engine:
    """An engine with its decision log, and the snapshot on disk if there is one."""
    s = settings.screening
    sink = JsonLinesDecisionLog(log_dir(settings), max_bytes=s.log_max_bytes) if with_log else None
    engine = Engine(engine_config(s), decision_log=sink)
    with contextlib.suppress(Unavailable):
        engine.swap(Snapshot.build(load_input(snapshot_dir(settings))))
    if engine.snapshot is None:
        log.warning("screening.no_snapshot", directory=str(snapshot_dir(settings)),
                    fail_open=s.fail_open)
    return engine


class SnapshotReloader:
    """Rebuilds the snapshot in a worker thread when its input changes, then swaps it in."""

    def __init__(self, engine: Engine, directory: Path, every_s: float) -> None:
        self.engine = engine
        self.directory = directory
        self.every_s = every_s
        self._seen = input_mtime(directory) if engine.snapshot is not None else 0.0

    async def check(self) -> bool:
        """Rebuild and swap when the input changed since the last look; True when swapped."""
        mtime = input_mtime(self.directory)
        if not mtime or mtime == self._seen:
            return False
        try:
            snap = await asyncio.to_thread(lambda: Snapshot.build(load_input(self.directory)))
        except (OSError, ValueError, KeyError, Unavailable) as e:
            log.error("screening.reload_failed", directory=str(self.directory), error=str(e))
            return False
        self._seen = mtime
        self.engine.swap(snap)  # one reference assignment: decisions never see half a snapshot
        return True

    async def run(self) -> None:
        """Check forever, every ``every_s`` seconds."""
        while True:
            await asyncio.sleep(self.every_s)
            await self.check()


async def flush_forever(engine: Engine, every_s: float = 1.0) -> None:
    """Flush the decision log every ``every_s`` seconds, so that a crash loses at most that."""
    while True:
        await asyncio.sleep(every_s)
        if engine.decision_log is not None:
            engine.decision_log.flush()
