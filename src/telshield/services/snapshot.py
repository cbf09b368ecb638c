"""The screening snapshot of a moment, built from the store and the lake, and published.

This is the seam between disposal and interception. At a moment ``at``:
- list entries in force (black, white, grey, police-ordered) become list flags, prefix and range
  entries prefix rules, blacklisted IMEIs (device barring) barred devices;
- every open case puts its number under warning with the strongest of its alert tier and its
  status (a number restricted or suspended by the disposal policy is barred, so its calls get
  the ``suspend`` tier's outcome);
- callees who received calls from warned numbers in the last ``protect_days`` become protected
  (victim protection: a later call from a warned number to them warns the callee);
- the TACs the device_intel feed lists as GOIP or SIM-bank devices become barred device classes;
- our subscribers whose latest location update (the roaming feed) is an attach to a foreign
  network are abroad: the spoof check lets their own number through the international gateway;
- the ported feed (the number-portability database) says which carrier serves each ported
  number: a call over interconnect is checked against it, not against the number's segment;
- the compiled numbering plan rides along, so the faces need nothing else.

The result is published (the faces follow the publisher) by a ``SnapshotPublisher``, which
wiring supplies: a folder on disk written atomically.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import ibis
import numpy as np
import numpy.typing as npt
import structlog

from telshield.domain.cases import CaseStatus
from telshield.domain.clock import FeedTime, feed_epoch, feed_to_store
from telshield.domain.paging import Page
from telshield.screening.numbering import (
    CARRIER_CODE,
    I64,
    PlanTuple,
    parse_number,
    parse_numbers,
)
from telshield.screening.snapshot import (
    BARRED_DEVICE_KINDS,
    BLACK,
    GREY,
    POLICE,
    SUSPEND,
    VERIFY,
    WATCH,
    WHITE,
    SnapshotInput,
    input_from_entries,
)
from telshield.services.cases import CaseService
from telshield.services.lakeread import FeedReader
from telshield.services.lists import COLOUR_CODES, ListService

log = structlog.get_logger(__name__)

# ListService colour codes -> snapshot list bits.
_COLOUR_BITS = np.zeros(max(COLOUR_CODES.values()) + 1, dtype=np.uint8)
for _name, _code in COLOUR_CODES.items():
    _COLOUR_BITS[_code] = {"grey": GREY, "black": BLACK, "white": WHITE}[_name]

_TIER_OF = {"watch": WATCH, "verify": VERIFY, "suspend": SUSPEND}
# What a case's status adds to its alert tier.
_STATUS_BITS = {
    CaseStatus.OPEN: 0,
    CaseStatus.VERIFYING: VERIFY,
    CaseStatus.RESTRICTED: SUSPEND,
    CaseStatus.SUSPENDED: SUSPEND,
}
_PAGE = 10_000


class SnapshotPublisher(Protocol):
    """Where snapshots go: the screening faces follow what is published here."""

    def publish(self, data: SnapshotInput) -> str:
        """Publish ``data`` atomically; returns the version name it was published under."""
        ...


@dataclass(frozen=True)
class SnapshotOptions:
    """What goes into a snapshot besides the lists and cases."""

    protect_victims: bool = True
    protect_days: int = 14  # callees of warned numbers within this many days are protected
    device_classes: bool = True  # bar GOIP / SIM-bank TACs from the device_intel feed
    roaming_days: int = 90  # location updates read back this far to know who is abroad


class SnapshotService:
    """Builds the screening snapshot of a moment from the store and the lake, and publishes it."""

    def __init__(self, lists: ListService, cases: CaseService, reader: FeedReader,
                 publisher: SnapshotPublisher, *, plan: tuple[PlanTuple, ...],
                 options: SnapshotOptions = SnapshotOptions()) -> None:
        self.lists, self.cases, self.reader = lists, cases, reader
        self.publisher, self.plan, self.options = publisher, plan, options

    def build(self, at: FeedTime) -> SnapshotInput:
        """The snapshot input at ``at`` (feed time)."""
        # The lake is read in feed time; list entries expire in store time (docs/time.md).
        stored = feed_to_store(at)
        cols = self.lists.number_columns(at=stored)
        flags = _COLOUR_BITS[cols.colours] | np.where(cols.police, POLICE, 0).astype(np.uint8)
        others = input_from_entries(cols.others, at=stored)  # prefix, range and IMEI entries
        warned, tiers = warned_numbers(self.cases)
        o = self.options
        protected = (self.victims(warned, since=at - timedelta(days=o.protect_days), until=at)
                     if o.protect_victims else np.empty(0, np.int64))
        ported, carriers = self.ported(at)
        return SnapshotInput(
            list_numbers=cols.numbers, list_flags=flags.astype(np.uint8), warned=warned,
            warned_tiers=tiers, protected=protected, list_prefixes=others.list_prefixes,
            plan=self.plan, barred_tacs=self.barred_tacs() if o.device_classes else (),
            barred_imeis=others.barred_imeis, roaming=self.roaming(at), ported=ported,
            ported_carriers=carriers, as_of=feed_epoch(at),
            # The moment and the list version, and a tag: the same moment may be published
            # again (a tick done over after a failure), and a published version is never reused.
            version=f"{at:%Y%m%dT%H%M%S}-l{cols.version}-{secrets.token_hex(3)}",
        )

    def publish(self, at: FeedTime) -> str:
        """Build the snapshot of ``at`` and publish it; returns the published version."""
        data = self.build(at)
        version = self.publisher.publish(data)
        log.info("snapshot.published", version=version, at=at.isoformat(),
                 listed=int(data.list_numbers.size), warned=int(data.warned.size),
                 protected=int(data.protected.size), devices=len(data.barred_imeis))
        return version

    def victims(self, warned: I64, *, since: datetime, until: datetime) -> I64:
        """Sorted distinct callees of calls placed by ``warned`` numbers in [since, until)."""
        if warned.size == 0:
            return np.empty(0, np.int64)
        calls = self.reader.table("calls", since, until)
        numbers = [str(n) for n in warned.tolist()]
        got = calls.filter(calls.caller.isin(numbers)).select("callee").distinct()
        callees = self.reader.con.to_pyarrow(got)["callee"].to_pylist()
        out = np.unique(parse_numbers([c for c in callees if c is not None]))
        return out[out > 0]

    def roaming(self, at: datetime) -> I64:
        """Sorted numbers of our subscribers abroad at ``at``: their last location update in
        the roaming feed before it is an attach to a foreign network."""
        r = self.reader.table("roaming", at - timedelta(days=self.options.roaming_days), at)
        last = r.group_by("msisdn").aggregate(event=r.event.argmax(r.at))
        got = self.reader.con.to_pyarrow(last.filter(last.event == "attach").select("msisdn"))
        out = np.unique(parse_numbers([m for m in got["msisdn"].to_pylist() if m is not None]))
        return out[out > 0]

    def ported(self, at: datetime) -> tuple[I64, npt.NDArray[np.uint8]]:
        """Ported numbers and the carrier code serving each at ``at``: every number's latest
        port before it (the ported feed)."""
        p = self.reader.table("ported")
        p = p.filter(p.ported_at < ibis.timestamp(at))
        last = p.group_by("msisdn").aggregate(carrier=p.carrier.argmax(p.ported_at))
        got = self.reader.con.to_pyarrow(last)
        numbers = parse_numbers([m or "" for m in got["msisdn"].to_pylist()])
        codes = np.fromiter((CARRIER_CODE.get(c or "", 0) for c in got["carrier"].to_pylist()),
                            dtype=np.uint8, count=len(numbers))
        keep = numbers > 0
        return numbers[keep], codes[keep]

    def barred_tacs(self) -> tuple[tuple[str, str], ...]:
        """(TAC, kind) of GOIP / SIM-bank devices in the device_intel feed."""
        intel = self.reader.table("device_intel")
        rows = self.reader.con.to_pyarrow(
            intel.filter(intel.kind.isin(BARRED_DEVICE_KINDS)).select("tac", "kind")).to_pylist()
        return tuple(sorted({(str(r["tac"]), str(r["kind"])) for r in rows if r["tac"]}))


def warned_numbers(cases: CaseService) -> tuple[I64, np.ndarray]:
    """Numbers with an open case and their tier bits (alert tier OR status)."""
    nums: list[int] = []
    bits: list[int] = []
    for status, extra in _STATUS_BITS.items():
        offset = 0
        while True:
            page = cases.find(status=status.value, page=Page(_PAGE, offset))
            for c in page:
                b = _TIER_OF.get(c.tier, 0) | extra
                n = parse_number(c.msisdn)
                if b and n > 0:
                    nums.append(n)
                    bits.append(b)
            if len(page) < _PAGE:
                break
            offset += _PAGE
    return np.array(nums, dtype=np.int64), np.array(bits, dtype=np.uint8)
