"""Device barring (机卡联动): the phones that barred fraud numbers used are blacklisted too.

A fraud crew burns one SIM after another in the same phone; barring only the number leaves the
phone free to set up calls with the next SIM, which then calls for hours until detection has
seen enough of it. Barring the phone's IMEI lets screening reject the next SIM's first call
(``device:listed``).

Which numbers count as barred: numbers whose case is restricted or suspended, and numbers on a
police-ordered block. Their IMEIs come from the calls feed over the look-back window. Each IMEI
becomes a black ``imei`` list entry (source ``disposal``) that expires by itself, naming the
(masked) number it was barred for; an analyst lifts one like any list entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from telshield.domain.cases import CaseStatus
from telshield.domain.lists import Colour, ListEntry, Source, TargetKind
from telshield.domain.paging import Page
from telshield.domain.users import mask_number
from telshield.services.cases import CaseService
from telshield.services.lakeread import FeedReader
from telshield.services.lists import ListService

log = structlog.get_logger(__name__)

_BARRED = (CaseStatus.RESTRICTED, CaseStatus.SUSPENDED)
_PAGE = 10_000
ACTOR = "device-barring"


@dataclass(frozen=True)
class DeviceBarResult:
    """What one run listed."""

    numbers: int  # barred numbers whose devices were looked up
    devices: int  # IMEIs newly blacklisted


class DeviceBarring:
    """Blacklist the IMEIs used by barred numbers (run after each disposal round)."""

    def __init__(self, lists: ListService, cases: CaseService, reader: FeedReader, *,
                 lookback_days: int = 7, expires_days: int = 180) -> None:
        self.lists, self.cases, self.reader = lists, cases, reader
        self.lookback = timedelta(days=lookback_days)
        self.expires = timedelta(days=expires_days)
        self._looked_up: frozenset[str] = frozenset()

    def barred_numbers(self) -> set[str]:
        """Numbers restricted or suspended by a case, and numbers under a police-ordered block."""
        out: set[str] = set()
        for status in _BARRED:
            offset = 0
            while True:
                page = self.cases.find(status=status.value, page=Page(_PAGE, offset))
                out.update(c.msisdn for c in page)
                if len(page) < _PAGE:
                    break
                offset += _PAGE
        out.update(e.value for e in self._entries(kind=TargetKind.NUMBER.value, source="police")
                   if e.police_ordered)
        return out

    def run(self, until: datetime) -> DeviceBarResult:
        """List, at ``until``, the not yet listed IMEIs that barred numbers used in the
        look-back window before it. Does nothing when no number was barred since the last run
        (a barred number's later call attempts are rejected anyway)."""
        barred = frozenset(self.barred_numbers())
        if not barred or barred <= self._looked_up:
            return DeviceBarResult(0, 0)
        numbers = sorted(barred)
        calls = self.reader.table("calls", since=until - self.lookback, until=until)
        used = calls.filter(calls.caller.isin(numbers) & calls.caller_imei.notnull())
        rows = (used.group_by(imei=used.caller_imei).agg(number=used.caller.min())
                .to_pyarrow().to_pylist())
        listed = {e.value for e in self._entries(kind=TargetKind.IMEI.value)}
        entries = [
            ListEntry.new(TargetKind.IMEI, r["imei"], Colour.BLACK, source=Source.DISPOSAL,
                          reason=f"device used by barred number {mask_number(r['number'])}",
                          actor=ACTOR, at=until, expires_at=until + self.expires)
            for r in rows if r["imei"] not in listed
        ]
        self.lists.add_many(entries, actor=ACTOR, note=f"bar {len(entries)} device(s)")
        self._looked_up = barred
        log.info("devices.barred", numbers=len(numbers), devices=len(entries))
        return DeviceBarResult(len(numbers), len(entries))

    def _entries(self, *, kind: str, source: str = "") -> list[ListEntry]:
        out: list[ListEntry] = []
        offset = 0
        while True:
            page = self.lists.find(kind=kind, source=source, page=Page(_PAGE, offset))
            out.extend(page)
            if len(page) < _PAGE:
                return out
            offset += _PAGE
