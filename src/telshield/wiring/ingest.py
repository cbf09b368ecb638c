"""Composition of ingest for the edges: options from settings, the quarantine and the feeds'
own documentation (the edges reach the feeds adapter only through here)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from telshield.domain.errors import InvalidInput
from telshield.services.ingest import IngestOptions
from telshield.settings import Settings

if TYPE_CHECKING:
    import pyarrow as pa

    from telshield.feeds.check import FeedCheck
    from telshield.feeds.profiles import Profile
    from telshield.reference.schemas import Feed


def profile_path(settings: Settings, name: str) -> Path:
    """A profile given as a path (``x/p.toml``) or a name in ``ingest.profile_dir``."""
    given = Path(name)
    if given.suffix == ".toml" or len(given.parts) > 1:
        return given
    folder = settings.ingest.profile_dir or settings.data_dir / "profiles"
    path = folder / f"{name}.toml"
    if not path.exists():
        there = sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []
        raise InvalidInput(
            f"no feed profile {name!r}: {path} does not exist; profiles there: "
            f"{', '.join(there) or 'none'} (give a path to a .toml file, or set "
            "ingest.profile_dir)")
    return path


def load_profile(settings: Settings, name: str) -> Profile:
    """Read and check the feed profile ``name`` (a path or a name in ``ingest.profile_dir``)."""
    from telshield.feeds.profiles import load_profile as load

    return load(profile_path(settings, name))


def ingest_options(settings: Settings, profile: str | None = None,
                   feeds: list[str] | None = None) -> IngestOptions:
    """Ingest options from the settings' ``ingest`` section and the data directory; with
    ``profile``, the files of ``feeds`` (all when None) are read through that feed profile."""
    s = settings.ingest
    profiles: dict[str, Profile] = {}
    if profile is not None:
        from telshield.reference.schemas import FEEDS

        loaded = load_profile(settings, profile)
        profiles = {f: loaded for f in (feeds or list(FEEDS))}
    return IngestOptions(
        lake_dir=settings.lake_dir,
        quarantine_dir=settings.quarantine_dir,
        chunk_rows=s.chunk_rows,
        earliest=s.earliest,
        future_slack_days=s.future_slack_days,
        reader=s.reader,
        memory_limit=s.memory_limit,
        max_field_bytes=s.max_field_bytes,
        max_line_bytes=s.max_line_bytes,
        profiles=profiles,
    )


def watch_options(settings: Settings) -> IngestOptions:
    """Ingest options for the operating cycle's drop folder: each feed folder named in
    ``cycle.watch_profiles`` is read through its profile."""
    from telshield.reference.schemas import FEEDS

    opts = ingest_options(settings)
    profiles: dict[str, Profile] = {}
    for folder, name in settings.cycle.watch_profiles.items():
        if folder not in FEEDS:
            raise InvalidInput(
                f"cycle.watch_profiles: {folder!r} is not a feed folder; the drop folder has "
                f"one per feed: {', '.join(FEEDS)}")
        profiles[folder] = load_profile(settings, name)
    return IngestOptions(**{**opts.__dict__, "profiles": profiles})


def check_feed_file(settings: Settings, path: Path, feed: str, profile: str | None,
                    ) -> FeedCheck:
    """What ingesting ``path`` as ``feed`` through ``profile`` would quarantine, and why."""
    from telshield.domain.clock import feed_now
    from telshield.feeds.check import check_file
    from telshield.feeds.validate import Bounds
    from telshield.reference.schemas import feed as feed_spec

    spec = feed_spec(feed)
    s = settings.ingest
    bounds = Bounds.around(feed_now(), s.earliest, s.future_slack_days, s.max_field_bytes)
    fp = load_profile(settings, profile).for_feed(spec) if profile else None
    return check_file(path, spec, fp, bounds, s.memory_limit)


def quarantined(settings: Settings, feed: str | None, reason: str | None) -> pa.Table:
    """Quarantined rows (file, line, problems, the original record), optionally filtered;
    none of an ingest that died before its commit."""
    from telshield.feeds import quarantine
    from telshield.feeds.lake import Lake

    return quarantine.read(settings.quarantine_dir, feed, reason,
                           committed=Lake(settings.lake_dir).committed())


def feed_specs(name: str | None = None) -> list[Feed]:
    """The schema of one feed (InvalidInput naming the feeds if unknown), or of every feed."""
    from telshield.reference.schemas import FEEDS, feed

    return [feed(name)] if name else list(FEEDS.values())


def feeds_markdown() -> str:
    """docs/feeds.md as generated from the schemas."""
    from telshield.feeds.docs import render

    return render()
