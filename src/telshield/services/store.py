"""The seam between use cases and the relational store: a unit of work with repositories.

Services declare what they need here; ``telshield.store`` implements it and ``wiring`` plugs it
in. Repositories never commit: the service's ``with store.transaction() as tx:`` block does, with
the audit events appended inside the same block.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Protocol

from telshield.domain.alerts import Alert, AlertVersion, StoredAlert, Upserted
from telshield.domain.audit import AuditEvent, ChainedEvent
from telshield.domain.backtests import Backtest
from telshield.domain.bundles import Bundle, BundleStatus
from telshield.domain.cases import Action, Appeal, Case, CaseStatus, Command, OffnetReport
from telshield.domain.clock import StoreTime, store_now
from telshield.domain.dens import Den
from telshield.domain.gangs import Gang
from telshield.domain.hotspots import Hotspot
from telshield.domain.lists import EntryKey, ListDiff, ListDiffPage, ListEntry
from telshield.domain.paging import Page
from telshield.domain.police import ClueFeedback, PoliceRequest, Response, Unit
from telshield.domain.registrations import (
    CheckRecord,
    CheckRequest,
    Decision,
    Reason,
    StaffSuspension,
)
from telshield.domain.regrisk import FraudNumbers
from telshield.domain.users import User


class ListRepo(Protocol):
    """List entries, versioned: every change happens at a new list version."""

    def new_version(self, *, actor: str, note: str, at: datetime) -> int:
        """Allocate the next list version (serialising list writers until commit)."""
        ...

    def current_version(self) -> int:
        """The latest committed list version (0 when nothing was ever listed)."""
        ...

    def add(self, entries: Sequence[ListEntry], version: int) -> list[ListEntry]:
        """Store entries as added at ``version``; return them with ids."""
        ...

    def remove(self, ids: Sequence[int], version: int) -> int:
        """Mark live entries as removed at ``version``; return how many were live."""
        ...

    def live_keys(self, values: Sequence[str]) -> set[EntryKey]:
        """The import keys of live entries with these values."""
        ...

    def added_at(self, version: int) -> list[ListEntry]:
        """Every entry added at ``version``, removed since or not."""
        ...

    def get(self, id: int) -> ListEntry:
        """One entry (live or not); NotFound if absent."""
        ...

    def find(
        self,
        *,
        value: str = "",
        kind: str = "",
        colour: str = "",
        source: str = "",
        page: Page = Page(),
    ) -> list[ListEntry]:
        """Live entries, filtered and paginated."""
        ...

    def covering(self, number: str) -> list[ListEntry]:
        """Live number, prefix and range entries that cover ``number``."""
        ...

    def owned(self) -> list[ListEntry]:
        """Live entries registered to an owner (the enterprise whitelist)."""
        ...

    def expired(self, at: datetime) -> list[int]:
        """Ids of live entries whose expiry has passed at ``at``."""
        ...

    def at_version(self, version: int, batch: int = 100_000, kinds: Sequence[str] = ()
                   ) -> Iterator[list[ListEntry]]:
        """Every entry live at ``version`` (of ``kinds``, if given), in batches."""
        ...

    def number_rows_at(self, version: int, batch: int = 1_000_000
                       ) -> Iterator[list[tuple[str, str, bool, datetime | None]]]:
        """(value, colour, police_ordered, expires_at) of every number entry live at
        ``version``, in batches: the lean path for building a snapshot of millions."""
        ...

    def diff(self, from_version: int, to_version: int) -> ListDiff:
        """Entries added and removed between two versions."""
        ...

    def diff_page(self, from_version: int, to_version: int, *, after_added: int = 0,
                  after_removed: int = 0, limit: int = 500) -> ListDiffPage:
        """One keyset page of :meth:`diff` with each side's total."""
        ...


class AlertRepo(Protocol):
    """Alerts: one open alert per number, older ones kept as history."""

    def upsert(self, alerts: Sequence[Alert]) -> list[Upserted]:
        """Open an alert for each number without one, or update its open alert in place (a
        change is a new version; the same alert again changes nothing); return what happened
        to each, in order."""
        ...

    def open_alerts(self) -> list[Alert]:
        """The open alert of every number."""
        ...

    def find(
        self, *, msisdn: str = "", tier: str = "", open_only: bool = False, page: Page = Page(),
        before: int | None = None,
    ) -> list[StoredAlert]:
        """Alerts, newest first, filtered and paginated (``before``: only ids below it, the
        keyset way to page deep without OFFSET)."""
        ...

    def versions(self, msisdn: str) -> list[AlertVersion]:
        """Every version of the number's alerts, oldest first."""
        ...

    def tier_counts(self, *, since: datetime | None = None, until: datetime | None = None,
                    open_only: bool = False) -> dict[str, int]:
        """How many alerts of each tier were detected (at or after ``since``, before
        ``until``, store time)."""
        ...

    def span_tier_counts(self, spans: Sequence[tuple[datetime, datetime]]
                         ) -> list[dict[str, int]]:
        """:meth:`tier_counts` of each span [start, end) in one query."""
        ...


class CaseRepo(Protocol):
    """Cases: at most one open case per number."""

    def get(self, id: int) -> Case:
        """One case; NotFound if absent."""
        ...

    def open_for(self, msisdns: Sequence[str]) -> dict[str, Case]:
        """The open case of each number that has one."""
        ...

    def last_released(self, msisdns: Sequence[str]) -> dict[str, Case]:
        """The latest case of each number whose latest case was released."""
        ...

    def add(self, cases: Sequence[Case]) -> list[Case]:
        """Insert new cases; return them with ids, in order."""
        ...

    def save(self, cases: Sequence[Case]) -> None:
        """Write back changed cases."""
        ...

    def find(
        self, *, msisdn: str = "", status: str = "", group_ref: str = "", page: Page = Page()
    ) -> list[Case]:
        """Cases, newest first, filtered and paginated."""
        ...

    def counts(self) -> dict[str, int]:
        """How many cases are in each status."""
        ...

    def overdue(self, at: datetime, statuses: Sequence[CaseStatus]) -> list[Case]:
        """Cases in one of ``statuses`` whose deadline has passed at ``at``."""
        ...

    def count_overdue(self, at: datetime, statuses: Sequence[CaseStatus]) -> int:
        """How many cases :meth:`overdue` would return (counted, not loaded)."""
        ...


class ActionRepo(Protocol):
    """The actions taken on cases."""

    def add(self, actions: Sequence[Action]) -> int:
        """Insert actions; return how many."""
        ...

    def find(
        self, *, case_id: int | None = None, kind: str = "", page: Page = Page()
    ) -> list[Action]:
        """Actions, newest first, filtered and paginated."""
        ...

    def counts(self, *, since: datetime | None = None, until: datetime | None = None,
               reason: str | None = None) -> dict[str, int]:
        """How many actions of each kind were taken (in [since, until) store time, with this
        reason when given)."""
        ...

    def span_counts(self, spans: Sequence[tuple[datetime, datetime]], *,
                    reason: str | None = None) -> list[tuple[dict[str, int], dict[str, int]]]:
        """For each span [start, end): :meth:`counts` of it, and of it with ``reason`` (empty
        without one), in one query."""
        ...

    def per_day(self, since: datetime, *, shift: timedelta, days: int
                ) -> list[tuple[str, str, int]]:
        """(day, kind, count) of the actions in the ``days`` days from ``since`` (store time,
        a day's start), each day named by its date on the clock ``shift`` ahead of store time
        (China Standard Time: 8 hours)."""
        ...


class AppealRepo(Protocol):
    """Appeals against measures."""

    def add(self, appeal: Appeal) -> Appeal:
        """Insert an appeal; return it with its id."""
        ...

    def get(self, id: int) -> Appeal:
        """One appeal; NotFound if absent."""
        ...

    def save(self, appeal: Appeal) -> None:
        """Write back a decided appeal."""
        ...

    def find(
        self, *, case_id: int | None = None, status: str = "", page: Page = Page()
    ) -> list[Appeal]:
        """Appeals, newest first, filtered and paginated."""
        ...

    def counts(self, *, since: datetime | None = None, until: datetime | None = None
               ) -> dict[str, int]:
        """How many appeals are in each status (of those filed in [since, until), store
        time)."""
        ...

    def span_counts(self, spans: Sequence[tuple[datetime, datetime]]) -> list[dict[str, int]]:
        """:meth:`counts` of each span [start, end) in one query."""
        ...


class OutboxRepo(Protocol):
    """Provisioning commands waiting for the BSS (at-least-once, idempotent by key)."""

    def add(self, commands: Sequence[Command]) -> int:
        """Queue commands; a key already queued is skipped. Return how many were new."""
        ...

    def pending(self, limit: int) -> list[Command]:
        """Undelivered commands, oldest first."""
        ...

    def attempted(self, ids: Sequence[int]) -> None:
        """Count one more delivery attempt for these commands."""
        ...

    def delivered(self, ids: Sequence[int], at: datetime) -> int:
        """Mark commands delivered; return how many were still pending."""
        ...

    def find(
        self, *, msisdn: str = "", pending_only: bool = False, page: Page = Page()
    ) -> list[Command]:
        """Commands, oldest first, filtered and paginated."""
        ...


class OffnetRepo(Protocol):
    """Report lines on suspected numbers we do not hold: one per number, updated in place."""

    def for_numbers(self, msisdns: Sequence[str]) -> dict[str, OffnetReport]:
        """The report line of each number that has one."""
        ...

    def save(self, reports: Sequence[OffnetReport]) -> None:
        """Insert new lines (no id) and write back changed ones."""
        ...

    def find(self, *, party: str = "", since: datetime | None = None, page: Page = Page()
             ) -> list[OffnetReport]:
        """Report lines, most recently updated first, filtered and paginated."""
        ...


class AuditRepo(Protocol):
    """The append-only, hash-chained audit log."""

    def append(self, events: Sequence[AuditEvent]) -> list[ChainedEvent]:
        """Chain and insert events after the current head."""
        ...

    def head(self) -> tuple[int, str]:
        """(last seq, last hash) as recorded by the writers."""
        ...

    def read(
        self, *, after: int = 0, limit: int = 1000, subject: str = "", actor: str = ""
    ) -> list[ChainedEvent]:
        """Events after seq ``after``, in order, filtered."""
        ...


class UserRepo(Protocol):
    """Users and the hashes of their API keys."""

    def add(self, user: User) -> User:
        """Insert a user; Conflict if the name is taken."""
        ...

    def by_key_hash(self, key_hash: str) -> User | None:
        """The user holding a key, if any."""
        ...

    def by_name(self, name: str) -> User:
        """One user; NotFound if absent."""
        ...

    def save(self, user: User) -> None:
        """Write back a changed user."""
        ...

    def all(self) -> list[User]:
        """Every user."""
        ...


class RegistrationRepo(Protocol):
    """Registration checks (入网核验) and staff IDs suspended from registering."""

    def lock_id(self, id_hash: str) -> None:
        """Serialise checks of one ID until the transaction ends (the card limit holds even
        when requests for the ID race)."""
        ...

    def add(self, request: CheckRequest, decision: Decision, reasons: Sequence[Reason], *,
            actor: str, at: datetime) -> int:
        """Record one check; return its id."""
        ...

    def recent(self, *, decision: str = "", channel_id: str = "", staff_id: str = "",
               before: int | None = None, limit: int = 50) -> list[CheckRecord]:
        """Checks newest first, filtered by decision, channel and staff ID, paged on by the
        last id seen."""
        ...

    def granted(self, id_hash: str, since: datetime) -> dict[str, datetime]:
        """Numbers allowed or sent to verification under the ID since ``since``, with when
        each was first."""
        ...

    def decisions(self, id_hash: str, msisdn: str, since: datetime) -> list[Decision]:
        """The decisions of the checks of this ID and number since ``since``, oldest first."""
        ...

    def count_since(self, column: str, value: str, since: datetime) -> int:
        """Checks since ``since`` whose ``column`` (staff_id, terminal_id, address_hash,
        contact, ip or device_id) is ``value``."""
        ...

    def suspend(self, suspension: StaffSuspension) -> StaffSuspension:
        """Store a suspension; return it with its id."""
        ...

    def suspension(self, staff_id: str) -> StaffSuspension | None:
        """The staff ID's suspension in force, if any."""
        ...

    def lift(self, staff_id: str, *, by: str, at: datetime) -> StaffSuspension:
        """Lift the staff ID's suspension in force; NotFound if none is."""
        ...

    def suspensions(self, *, active_only: bool = True) -> list[StaffSuspension]:
        """Suspensions, newest first."""
        ...


class HotspotRepo(Protocol):
    """Out-of-town concentration hotspots (外地号码聚集)."""

    def latest_open(self, region: str) -> Hotspot | None:
        """The region's most recent open hotspot, if any."""
        ...

    def save(self, h: Hotspot) -> Hotspot:
        """Insert a hotspot (no id) or replace a stored one; return it with its id."""
        ...

    def get(self, id: int) -> Hotspot:
        """One hotspot with its numbers; NotFound if absent."""
        ...

    def find(self, *, since: datetime | None = None, region: str | None = None,
             page: Page = Page()) -> list[Hotspot]:
        """Hotspots, latest window first, without their numbers."""
        ...


class GangRepo(Protocol):
    """Gang cases (开卡贩卡团伙) with their member cards and links."""

    def open_members(self) -> dict[str, int]:
        """The open gang of each card that is a member of one."""
        ...

    def save(self, gang: Gang) -> Gang:
        """Insert a gang (no id) or replace a stored one and its members; return it with id."""
        ...

    def get(self, id: int) -> Gang:
        """One gang with its members and links; NotFound if absent."""
        ...

    def find(self, *, min_score: float = 0.0, page: Page = Page()) -> list[Gang]:
        """Gangs, highest score first, without their members and links."""
        ...


class DenRepo(Protocol):
    """GOIP den cases (窝点) with their members over time."""

    def open_index(self) -> tuple[dict[str, int], dict[str, int]]:
        """The open den of each port IMEI and of each member number."""
        ...

    def save(self, den: Den) -> Den:
        """Insert a den (no id) or replace a stored one and its members; return it with id."""
        ...

    def get(self, id: int) -> Den:
        """One den with its members; NotFound if absent."""
        ...

    def find(self, *, min_confidence: float = 0.0, page: Page = Page()) -> list[Den]:
        """Dens, most confident first, without their members."""
        ...


class BundleRepo(Protocol):
    """Clue bundles: a police clue's related numbers proposed for disposal."""

    def clue_ids(self, clue_ids: list[str]) -> set[str]:
        """Those of ``clue_ids`` that have a bundle already."""
        ...

    def find_clue(self, clue_id: str) -> int | None:
        """The id of the clue's bundle (None when it has none)."""
        ...

    def add(self, bundle: Bundle) -> Bundle:
        """Insert a new bundle with its members; return it with its id."""
        ...

    def decide(self, bundle: Bundle) -> None:
        """Store a bundle's decision and its members' decisions."""
        ...

    def get(self, bundle_id: int) -> Bundle:
        """One bundle with its members, strongest first; NotFound if absent."""
        ...

    def find(self, *, status: BundleStatus | None = None, page: Page = Page()) -> list[Bundle]:
        """Bundles, newest first, without their members."""
        ...

    def sizes(self, bundle_ids: list[int]) -> dict[int, int]:
        """How many members each bundle has."""
        ...


class BacktestRepo(Protocol):
    """Rules backtests: the figures of each run, kept so the rules page can show them."""

    def add(self, b: Backtest) -> Backtest:
        """Store a backtest run; return it with its id."""
        ...

    def latest(self, rules_versions: Sequence[str]) -> dict[str, Backtest]:
        """The last backtest of each of ``rules_versions`` that has one."""
        ...


class OutcomeRepo(Protocol):
    """What became of numbers: read for the channel / staff / terminal risk ranking."""

    def fraud_numbers(self) -> FraudNumbers:
        """Every number alerted, clued by the police or confirmed fraud."""
        ...


class PoliceRepo(Protocol):
    """Police units, their requests, sealed responses and clue feedback (警企协同)."""

    def add_unit(self, unit: Unit) -> Unit:
        """Register a unit; Conflict if its code is taken."""
        ...

    def unit(self, code: str) -> Unit | None:
        """One unit, if registered."""
        ...

    def units(self) -> list[Unit]:
        """Every unit."""
        ...

    def add(self, q: PoliceRequest) -> PoliceRequest:
        """Insert a request; return it with its id."""
        ...

    def get(self, id: int, *, lock: bool = False) -> PoliceRequest:
        """One request; NotFound if absent (``lock``: held until the transaction ends)."""
        ...

    def save(self, q: PoliceRequest) -> None:
        """Write back a changed request."""
        ...

    def find(self, *, unit: str = "", status: str = "", page: Page = Page()
             ) -> list[PoliceRequest]:
        """Requests, newest first, filtered and paginated."""
        ...

    def submitted_between(self, since: datetime, until: datetime) -> list[PoliceRequest]:
        """Requests that arrived in [since, until), oldest first."""
        ...

    def open_past(self, at: datetime) -> list[PoliceRequest]:
        """Open requests whose deadline has passed at ``at``."""
        ...

    def breached(self, at: datetime) -> list[PoliceRequest]:
        """Requests that missed their SLA."""
        ...

    def add_response(self, resp: Response) -> None:
        """Store a request's sealed response."""
        ...

    def response(self, request_id: int) -> Response | None:
        """A request's sealed response, if any."""
        ...

    def add_feedback(self, fb: ClueFeedback) -> None:
        """Record what was done with a clue."""
        ...

    def feedback(self, *, unit: str = "", clue_id: str = "") -> list[ClueFeedback]:
        """Clue feedback, filtered."""
        ...


class UnitOfWork(Protocol):
    """One transaction's view of the store."""

    @property
    def lists(self) -> ListRepo:
        """The lists repository."""
        ...

    @property
    def alerts(self) -> AlertRepo:
        """The alerts repository."""
        ...

    @property
    def cases(self) -> CaseRepo:
        """The cases repository."""
        ...

    @property
    def actions(self) -> ActionRepo:
        """The actions repository."""
        ...

    @property
    def appeals(self) -> AppealRepo:
        """The appeals repository."""
        ...

    @property
    def outbox(self) -> OutboxRepo:
        """The outbox repository."""
        ...

    @property
    def offnet(self) -> OffnetRepo:
        """The off-net report lines."""
        ...

    @property
    def audit(self) -> AuditRepo:
        """The audit repository."""
        ...

    @property
    def users(self) -> UserRepo:
        """The users repository."""
        ...

    @property
    def registrations(self) -> RegistrationRepo:
        """Registration checks and staff suspensions."""
        ...

    @property
    def gangs(self) -> GangRepo:
        """Gang cases."""
        ...

    @property
    def hotspots(self) -> HotspotRepo:
        """Out-of-town concentration hotspots."""
        ...

    @property
    def dens(self) -> DenRepo:
        """GOIP den cases."""
        ...

    @property
    def outcomes(self) -> OutcomeRepo:
        """What became of numbers (alerted, clued, confirmed), for the risk ranking."""
        ...

    @property
    def police(self) -> PoliceRepo:
        """Police units, requests, responses and clue feedback."""
        ...

    @property
    def bundles(self) -> BundleRepo:
        """Clue bundles."""
        ...

    @property
    def backtests(self) -> BacktestRepo:
        """Rules backtests."""
        ...



class Store(Protocol):
    """The store: hands out transactions; leaving the block commits, an exception rolls back."""

    def transaction(self, *, write: bool = True) -> AbstractContextManager[UnitOfWork]:
        """Begin a transaction (``write=False``: a read that takes no write lock)."""
        ...


class Clock(Protocol):
    """Where services get the time: store time (naive UTC, ``telshield.domain.clock``); tests
    and simulated runs use a fixed clock."""

    def now(self) -> StoreTime:
        """The current time."""
        ...


class SystemClock:
    """The real clock, in store time (naive UTC)."""

    def now(self) -> StoreTime:
        """The current time."""
        return store_now()


class FixedClock:
    """A clock that stands still until moved (tests, replays, demos of deadlines)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        """The clock's current time."""
        return self.at

    def advance(self, **delta: float) -> None:
        """Move the clock forward by ``timedelta(**delta)``."""
        self.at += timedelta(**delta)
