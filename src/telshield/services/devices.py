"""Device barring (机卡联动): the phones that barred fraud numbers used are blacklisted too.

A fraud crew burns one SIM after another in the same phone; barring only the number leaves the
phone free to set up calls with the next SIM, which then calls for hours until detection has
seen enough of it. Barring the phone's IMEI lets screening reject the next SIM's first call
(``device:listed``).

Barring is proportionate to how sure we are (issue 12). One false alert on a company's line must
not bar the handsets its staff have used for years, so an IMEI is listed only when

- the number it served is **confirmed** fraud — a confirmed case (closed as fraud) or a
  police-ordered block from a clue — or
- the handset is clearly **not one honest person's long-used phone**: several SIMs rotated through
  it in the look-back window (``min_sims``; crews burn SIM after SIM in one phone, a person swaps
  SIMs once in years), or it was first seen only days ago (``fresh_days``) while the data reaches
  further back (a crew's new phone bought for the new SIM).

Restricted and suspended numbers whose handset is neither (one SIM, long in use) keep their phone:
screening still rejects the number itself, and the phone is barred as soon as the case is
confirmed. Each IMEI becomes a black ``imei`` list entry (source ``disposal``) that expires by
itself, naming the (masked) number it was barred for and why; an analyst lifts one like any
list entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from telshield.domain.cases import CaseStatus
from telshield.domain.clock import FeedTime
from telshield.domain.lists import Colour, ListEntry, Source, TargetKind
from telshield.domain.paging import Page
from telshield.domain.users import mask_number
from telshield.services.cases import CaseService
from telshield.services.lakeread import FeedReader
from telshield.services.lists import ListService

log = structlog.get_logger(__name__)

_BARRED = (CaseStatus.RESTRICTED, CaseStatus.SUSPENDED)
_CONFIRMED = (CaseStatus.CONFIRMED,)
_PAGE = 10_000
ACTOR = "device-barring"


@dataclass(frozen=True)
class DeviceBarResult:
    """What one run listed."""

    numbers: int  # barred numbers whose devices were looked up
    devices: int  # IMEIs newly blacklisted


@dataclass(frozen=True)
class Handset:
    """A phone a barred number used, as the look-back window's calls show it."""

    imei: str
    number: str  # the (first) barred number that used it
    confirmed: bool  # whether a confirmed number used it
    sims: int  # distinct numbers that called with it
    first_seen: datetime  # its first call in the window


class DeviceBarring:
    """Blacklist the IMEIs used by barred numbers (run after each disposal round)."""

    def __init__(self, lists: ListService, cases: CaseService, reader: FeedReader, *,
                 lookback_days: int = 7, expires_days: int = 180, min_sims: int = 3,
                 fresh_days: float = 3.0) -> None:
        self.lists, self.cases, self.reader = lists, cases, reader
        self.lookback = timedelta(days=lookback_days)
        self.expires = timedelta(days=expires_days)
        self.min_sims = min_sims
        self.fresh = timedelta(days=fresh_days)
        self._looked_up: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())

    def _with_status(self, statuses: tuple[CaseStatus, ...]) -> set[str]:
        out: set[str] = set()
        for status in statuses:
            offset = 0
            while True:
                page = self.cases.find(status=status.value, page=Page(_PAGE, offset))
                out.update(c.msisdn for c in page)
                if len(page) < _PAGE:
                    break
                offset += _PAGE
        return out

    def confirmed_numbers(self) -> set[str]:
        """Numbers confirmed as fraud: a case closed as fraud, or a police-ordered block."""
        out = self._with_status(_CONFIRMED)
        out.update(e.value for e in self._entries(kind=TargetKind.NUMBER.value, source="police")
                   if e.police_ordered)
        return out

    def barred_numbers(self) -> set[str]:
        """Numbers restricted or suspended by a case, and the confirmed ones."""
        return self._with_status(_BARRED) | self.confirmed_numbers()

    def run(self, until: FeedTime) -> DeviceBarResult:
        """List, at ``until`` (feed time), the not yet listed IMEIs that barred numbers used in the
        look-back window before it, where the number is confirmed fraud or the handset is not one
        person's long-used phone (module docstring). Does nothing when no number was barred or
        confirmed since the last run (a barred number's later call attempts are rejected)."""
        confirmed = frozenset(self.confirmed_numbers())
        barred = frozenset(self.barred_numbers())
        seen_barred, seen_confirmed = self._looked_up
        if not barred or (barred <= seen_barred and confirmed <= seen_confirmed):
            return DeviceBarResult(0, 0)
        handsets, data_from = self._handsets(sorted(barred), sorted(confirmed), until)
        now = self.lists.clock.now()  # entries are stamped in store time; ``until`` is feed time
        listed = {e.value for e in self._entries(kind=TargetKind.IMEI.value)}
        entries = [
            ListEntry.new(TargetKind.IMEI, h.imei, Colour.BLACK, source=Source.DISPOSAL,
                          reason=f"device used by barred number {mask_number(h.number)}: {why}",
                          actor=ACTOR, at=now, expires_at=now + self.expires)
            for h in handsets if h.imei not in listed and (why := self._why(h, data_from, until))
        ]
        self.lists.add_many(entries, actor=ACTOR, note=f"bar {len(entries)} device(s)")
        self._looked_up = (barred, confirmed)
        log.info("devices.barred", numbers=len(barred), confirmed=len(confirmed),
                 devices=len(entries), handsets=len(handsets))
        return DeviceBarResult(len(barred), len(entries))

    def _handsets(self, numbers: list[str], confirmed: list[str], until: datetime
                  ) -> tuple[list[Handset], datetime | None]:
        """The handsets barred numbers used in the window, and when the window's data begins."""
        calls = self.reader.table("calls", since=until - self.lookback, until=until)
        calls = calls.filter(calls.caller_imei.notnull() & (calls.started_at < until))
        used = calls.filter(calls.caller.isin(numbers))
        per_imei = used.group_by(imei=used.caller_imei).agg(
            number=used.caller.min(),
            confirmed=used.caller.isin(confirmed or [""]).cast("int64").max())
        on = calls.filter(calls.caller_imei.isin(per_imei.imei))
        stats = on.group_by(s_imei=on.caller_imei).agg(
            sims=on.caller.nunique(), first_seen=on.started_at.min())
        out = per_imei.join(stats, per_imei.imei == stats.s_imei).select(
            "imei", "number", "confirmed", "sims", "first_seen")
        rows = out.to_pyarrow().to_pylist()
        if not rows:
            return [], None
        start = self.reader.con.execute(calls.started_at.min())
        handsets = [Handset(str(r["imei"]), str(r["number"]), bool(r["confirmed"]),
                            int(r["sims"]), r["first_seen"]) for r in rows]
        return handsets, start.to_pydatetime() if hasattr(start, "to_pydatetime") else start

    def _why(self, h: Handset, data_from: datetime | None, until: datetime) -> str:
        """Why handset ``h`` is barred ('' if it is not): confirmed fraud, SIMs rotated through
        it, or first seen only lately on data that reaches further back."""
        if h.confirmed:
            return "confirmed fraud"
        if h.sims >= self.min_sims:
            return f"{h.sims} SIMs used it in {self.lookback.days} d"
        recent = until - self.fresh
        if data_from is not None and h.first_seen >= recent and data_from < recent:
            hours = (until - h.first_seen).total_seconds() / 3600
            return f"first seen {hours:.0f} h ago"
        return ""

    def _entries(self, *, kind: str, source: str = "") -> list[ListEntry]:
        out: list[ListEntry] = []
        offset = 0
        while True:
            page = self.lists.find(kind=kind, source=source, page=Page(_PAGE, offset))
            out.extend(page)
            if len(page) < _PAGE:
                return out
            offset += _PAGE
