"""Composition of the registration check (入网核验): the store, the lake's subscribers and
sanctions as an in-memory registry, the channel / staff risk ranking kept in memory, the batch
audit, and the ``[registration]`` settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from telshield.domain.registrations import Limits
from telshield.domain.statement import StatementPolicy
from telshield.services.regaudit import RegistrationAudit
from telshield.services.registrations import RegistrationService, Registry, RiskLookup
from telshield.services.regrisk import RiskIndex, RiskOptions, RiskRanking
from telshield.services.statement import Transcriber
from telshield.services.store import Clock, Store, SystemClock
from telshield.settings import Settings


def limits(settings: Settings) -> Limits:
    """The rules' settings from the ``registration`` section."""
    r = settings.registration
    return Limits(cards_per_id=r.cards_per_id, cards_30d_verify=r.cards_30d_verify,
                  staff_hour_verify=r.staff_hour_verify, staff_hour_refuse=r.staff_hour_refuse,
                  terminal_hour_verify=r.terminal_hour_verify,
                  terminal_hour_refuse=r.terminal_hour_refuse,
                  order_24h_verify=r.order_24h_verify,
                  statement=StatementPolicy(r.statement_wording, r.statement_threshold,
                                            r.statement_required,
                                            r.statement_on_fail == "refuse",
                                            r.statement_retake, r.statement_retake_tail_edits,
                                            r.statement_retake_score),
                  risk_share_verify=r.risk_share_verify, risk_min_count=r.risk_min_count)


def transcriber(settings: Settings) -> Transcriber | None:
    """The offline speech recogniser named by ``statement_model`` (None: none configured). The
    engine is imported and its model loaded at the first transcription."""
    model = settings.registration.statement_model
    if model is None:
        return None
    from telshield.speech.vosk import VoskTranscriber

    return VoskTranscriber(model)


def risk_ranking(settings: Settings, store: Store, *, clock: Clock | None = None,
                 lake: Path | None = None) -> RiskRanking:
    """The channel / staff / terminal risk ranking over the lake and ``store``."""
    from telshield.services.lakeread import FeedReader

    root = lake or settings.lake_dir
    r = settings.registration
    return RiskRanking(store, clock or SystemClock(), lambda: FeedReader(root),
                       RiskOptions(days=r.risk_days, min_count=r.risk_min_count))


def registration_audit(settings: Settings, store: Store, *, clock: Clock | None = None,
                       lake: Path | None = None) -> RegistrationAudit:
    """The batch registration audit over the lake and ``store``."""
    from telshield.services.lakeread import FeedReader

    root = lake or settings.lake_dir
    return RegistrationAudit(store, lambda: FeedReader(root), limits(settings),
                             risk_ranking(settings, store, clock=clock, lake=root))


def registrations(settings: Settings, store: Store, *, clock: Clock | None = None,
                  lake: Path | None = None, registry: Registry | None = None,
                  risk: RiskLookup | None = None) -> RegistrationService:
    """The registration service over ``store``, reading the lake (default: the settings')
    once, when the first check needs it."""
    from telshield.services.lakeread import FeedReader
    from telshield.services.registry import LakeRegistry

    root = lake or settings.lake_dir
    clock = clock or SystemClock()
    r = settings.registration
    if risk is None and r.risk_share_verify < 1:
        risk = RiskIndex(risk_ranking(settings, store, clock=clock, lake=root),
                         max_age_s=r.risk_refresh_minutes * 60)
    return RegistrationService(
        store, clock,
        registry if registry is not None else LakeRegistry(
            lambda: FeedReader(root), max_age_s=r.refresh_minutes * 60),
        limits(settings), appeal_channel=r.appeal_channel,
        pending=timedelta(days=r.pending_days), risk=risk,
        transcriber=transcriber(settings))
