"""The screening snapshot of a moment, built from the store's lists and open cases.

This is the adapter between disposal and interception that the replay needs: list entries in
force (black, white, grey, police-ordered) become list flags; every open case puts its number
under warning with the strongest of its alert tier and its status (a number restricted or
suspended by the disposal policy is barred, so its calls get the ``suspend`` tier's outcome);
callees of warned numbers become protected (victim protection); the TACs the device_intel
feed lists as GOIP or SIM-bank devices become barred device classes, and blacklisted IMEIs
(device barring) barred devices.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from telshield.domain.cases import CaseStatus
from telshield.domain.paging import Page
from telshield.feeds.lake import Lake
from telshield.feeds.schemas import FEEDS
from telshield.screening.files import barred_tacs_from_parquet
from telshield.screening.numbering import I64, PlanTuple, parse_number
from telshield.screening.snapshot import (
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
from telshield.screening.victims import victims_of
from telshield.services.cases import CaseService
from telshield.services.lists import COLOUR_CODES, ListService

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


def first_alerts(cases: CaseService) -> dict[str, datetime]:
    """The end of the data window of each number's first alert (when it was first visible)."""
    out: dict[str, datetime] = {}
    offset = 0
    while True:
        page = cases.alerts(page=Page(_PAGE, offset))
        for s in page:
            a = s.alert
            if a.msisdn not in out or a.window_end < out[a.msisdn]:
                out[a.msisdn] = a.window_end
        if len(page) < _PAGE:
            return out
        offset += _PAGE


def snapshot_input(
    lists: ListService, cases: CaseService, at: datetime, *, callers: I64, callees: I64,
    plan: tuple[PlanTuple, ...] = (), protect_victims: bool = True,
    barred_tacs: tuple[tuple[str, str], ...] = (),
) -> SnapshotInput:
    """The snapshot input at ``at``: lists in force, open cases, and (when asked) the protected
    callees of warned numbers found among the calls seen so far (``callers``/``callees``)."""
    cols = lists.number_columns(at=at)
    flags = _COLOUR_BITS[cols.colours] | np.where(cols.police, POLICE, 0).astype(np.uint8)
    others = input_from_entries(cols.others, at=at)  # prefix, range and IMEI entries
    warned, tiers = warned_numbers(cases)
    protected = victims_of(warned, callers, callees) if protect_victims else np.empty(0, np.int64)
    return SnapshotInput(
        list_numbers=cols.numbers, list_flags=flags.astype(np.uint8), warned=warned,
        warned_tiers=tiers, protected=protected, list_prefixes=others.list_prefixes, plan=plan,
        barred_tacs=barred_tacs, barred_imeis=others.barred_imeis,
        as_of=_epoch(at), version=f"replay-v{cols.version}-{at:%Y%m%dT%H%M}",
    )


def barred_tacs(feeds: Path) -> tuple[tuple[str, str], ...]:
    """(TAC, kind) of GOIP / SIM-bank devices in the device_intel feed of a lake (or of a
    world's folder of Parquet feeds): the device classes whose call set-ups are barred."""
    return barred_tacs_from_parquet(Lake(feeds).files(FEEDS["device_intel"]))


def _epoch(at: datetime) -> float:
    """Naive feed time read as UTC, as the replay does for every call: only differences count."""
    return float((at - datetime(1970, 1, 1)).total_seconds())

