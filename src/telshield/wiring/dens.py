"""Composition of the den finder: the store, the lake, the den profile (the shipped one or the
analyst's file) and the cases service for bulk disposal."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from telshield.domain.dens import DenProfile, parse_profile
from telshield.domain.errors import InvalidInput
from telshield.services.dens import DenService
from telshield.services.store import Clock, Store, SystemClock
from telshield.settings import Settings


def load_profile(path: Path | None) -> DenProfile:
    """The den profile in ``path``, or the shipped default."""
    if path is None:
        text = resources.files("telshield.detect").joinpath("default_den_profile.toml")\
            .read_text(encoding="utf-8")
        source = "default_den_profile.toml"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise InvalidInput(f"dens.profile {path}: cannot read it ({e.strerror}); give an "
                               "existing TOML file (docs/dens.md)") from None
        source = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidInput(f"{source}: not valid TOML ({e})") from None
    return parse_profile(data, source=source)


def dens(settings: Settings, store: Store, *, clock: Clock | None = None,
         lake: Path | None = None, with_cases: bool = True,
         engine: str | None = None) -> DenService:
    """The den service over ``store`` and the lake (default: the settings'). Its lake queries
    run on ``engine`` (``--engine``: duckdb or spark; default ``[engine] name``); callers that
    only read stored dens pass ``"duckdb"`` and start no Spark session."""
    from telshield.wiring.disposal import disposal
    from telshield.wiring.engine import engine as make_engine

    cases = disposal(settings, store=store, clock=clock, lake=lake).cases if with_cases else None
    reader = make_engine(settings, engine).reader(lake or settings.lake_dir)
    return DenService(store, clock or SystemClock(), reader,
                      load_profile(settings.dens.profile), settings.dens.lookback_hours, cases)
