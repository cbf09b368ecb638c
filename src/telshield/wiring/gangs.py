"""Composition of the gang finder: the store, the lake, the cases service for bulk disposal,
and the ``[gangs]`` settings."""

from __future__ import annotations

from pathlib import Path

from telshield.domain.gangs import ScoreRule
from telshield.services.gangs import GangService, GraphParams
from telshield.services.store import Clock, Store, SystemClock
from telshield.settings import Settings


def score_rule(settings: Settings) -> ScoreRule:
    """The score law's settings from the ``gangs`` section."""
    g = settings.gangs
    return ScoreRule(bulk=g.weight_bulk, cross=g.weight_cross, flagged=g.weight_flagged,
                     threshold=g.threshold, min_cards=g.min_cards, min_openers=g.min_openers)


def graph_params(settings: Settings) -> GraphParams:
    """How the registration graph is built, from the ``gangs`` section."""
    g = settings.gangs
    return GraphParams(lookback_days=g.lookback_days, burst_hours=g.burst_hours,
                       max_group=g.max_group, id_days=g.id_days, use_imei=g.use_imei,
                       annex=g.annex)


def gangs(settings: Settings, store: Store, *, clock: Clock | None = None,
          lake: Path | None = None, with_cases: bool = True,
          engine: str | None = None) -> GangService:
    """The gang service over ``store`` and the lake (default: the settings'). Its link table
    runs on ``engine`` (``--engine``: duckdb or spark; default ``[engine] name``); the
    communities and scores are found in the process. Callers that only read stored gangs pass
    ``"duckdb"`` and start no Spark session."""
    from telshield.wiring.disposal import disposal
    from telshield.wiring.engine import engine as make_engine

    cases = disposal(settings, store=store, clock=clock, lake=lake).cases if with_cases else None
    reader = make_engine(settings, engine).reader(lake or settings.lake_dir)
    return GangService(store, clock or SystemClock(), reader,
                       score_rule(settings), graph_params(settings), cases)
