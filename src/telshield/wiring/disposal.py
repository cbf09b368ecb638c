"""Composition of the disposal area: the store, lists, cases, audit, users, device barring."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from telshield.domain.cases import Policy
from telshield.domain.cases import offnet_block_from as domain_offnet_block_from
from telshield.domain.errors import InvalidInput
from telshield.services.audit import AuditService
from telshield.services.cases import CaseAlertSink, CaseService
from telshield.services.lists import ListService
from telshield.services.store import Clock, Store, SystemClock
from telshield.services.users import UserService
from telshield.settings import Settings
from telshield.wiring.security import audit_keys

if TYPE_CHECKING:  # device barring reads the lake (Ibis): loaded only where it is composed
    from telshield.services.devices import DeviceBarring
    from telshield.services.holders import LakeHolders
    from telshield.services.lakeread import FeedReader


def open_store(settings: Settings, *, schema: str = "") -> Store:
    """The SQL store named by the settings (SQLite in the data directory by default), migrated."""
    from telshield.store.sql import open_store as open_sql_store
    from telshield.wiring.security import audit_key

    return open_sql_store(settings.store_url, schema=schema, audit_key=audit_key(settings))


def disposal_policy(settings: Settings) -> Policy:
    """The disposal policy from the settings' ``disposal`` section."""
    d = settings.disposal
    policy = Policy(
        tier_actions=tuple(sorted(d.tier_actions.items())),
        verify_hours=d.verify_hours,
        restrict_hours=d.restrict_hours,
        appeal_channel=d.appeal_channel,
        offnet_days=d.offnet_days,
        new_evidence_margin=d.new_evidence_margin,
    )
    for tier in d.tier_actions:
        policy.action_for(tier)  # fail at start-up, not at the first alert, on a bad action
    return policy


def offnet_block_from(settings: Settings) -> str:
    """The tier from which a number we do not hold is blocked rather than labelled: verify when
    screening rejects our own numbers under re-verification (``screening.tier_verify``), else
    suspend."""
    from telshield.screening.snapshot import Outcome

    try:
        verify = Outcome(settings.screening.tier_verify)
    except ValueError:
        raise InvalidInput(
            f"screening tier outcome: {settings.screening.tier_verify!r}; use one of "
            f"{[o.value for o in Outcome]}"
        ) from None
    return domain_offnet_block_from(verify is Outcome.REJECT)


@dataclass(frozen=True)
class Disposal:
    """The disposal area's services over one store."""

    store: Store
    lists: ListService
    cases: CaseService
    audit: AuditService
    users: UserService


def holders(settings: Settings, *, lake: Path | None = None) -> LakeHolders:
    """Who holds a number: the ``subscribers`` feed in ``lake`` (default: the settings' lake)
    and the numbering plan, both read when first needed."""
    from telshield.services.holders import LakeHolders
    from telshield.services.lakeread import FeedReader
    from telshield.wiring.numbers import numbering_plan

    s = settings.screening
    return LakeHolders(lambda: FeedReader(lake or settings.lake_dir),
                       lambda: numbering_plan(settings), own_operator=s.own_operator,
                       own_province=s.own_province)


def disposal(settings: Settings, *, store: Store | None = None, clock: Clock | None = None,
             lake: Path | None = None) -> Disposal:
    """Lists, cases, audit and users services over the configured store; disposal acts only on
    the numbers the lake's ``subscribers`` feed says are ours."""
    store = store if store is not None else open_store(settings)
    clock = clock or SystemClock()
    return Disposal(
        store=store,
        lists=ListService(store, clock, white_min_digits=settings.lists.white_min_digits),
        cases=CaseService(store, clock, disposal_policy(settings),
                          holders=holders(settings, lake=lake),
                          offnet_block_from=offnet_block_from(settings)),
        audit=AuditService(store, audit_keys(settings)),
        users=UserService(store, clock),
    )


def device_barring(settings: Settings, d: Disposal, reader: FeedReader) -> DeviceBarring | None:
    """Device barring over the disposal services and a lake reader (None when switched off)."""
    from telshield.services.devices import DeviceBarring

    s = settings.disposal
    if not s.bar_devices:
        return None
    return DeviceBarring(d.lists, d.cases, reader, lookback_days=s.device_lookback_days,
                         expires_days=s.device_bar_days, min_sims=s.device_min_sims,
                         fresh_days=s.device_fresh_days)


def alert_sink(settings: Settings, *, store: Store | None = None) -> CaseAlertSink:
    """Where detection runs put alerts: stored, with cases opened and the policy applied."""
    return CaseAlertSink(disposal(settings, store=store).cases)

