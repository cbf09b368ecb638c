"""Composition of the registration check (入网核验): the store, the lake's subscribers and
sanctions as an in-memory registry, and the ``[registration]`` settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from telshield.domain.registrations import Limits
from telshield.domain.statement import StatementPolicy
from telshield.services.registrations import RegistrationService, Registry
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
                                            r.statement_on_fail == "refuse"))


def transcriber(settings: Settings) -> Transcriber | None:
    """The offline speech recogniser named by ``statement_model`` (None: none configured). The
    engine is imported and its model loaded at the first transcription."""
    model = settings.registration.statement_model
    if model is None:
        return None
    from telshield.speech.vosk import VoskTranscriber

    return VoskTranscriber(model)


def registrations(settings: Settings, store: Store, *, clock: Clock | None = None,
                  lake: Path | None = None, registry: Registry | None = None
                  ) -> RegistrationService:
    """The registration service over ``store``, reading the lake (default: the settings')
    once, when the first check needs it."""
    from telshield.services.lakeread import FeedReader
    from telshield.services.registry import LakeRegistry

    root = lake or settings.lake_dir
    return RegistrationService(
        store, clock or SystemClock(),
        registry if registry is not None else LakeRegistry(
            lambda: FeedReader(root), max_age_s=settings.registration.refresh_minutes * 60),
        limits(settings), appeal_channel=settings.registration.appeal_channel,
        pending=timedelta(days=settings.registration.pending_days),
        transcriber=transcriber(settings))
