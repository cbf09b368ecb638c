"""The people the replay needs besides the platform: owners of honest numbers who complete a
real-name re-verification when a measure asks them to.

A number sent to re-verify (or restricted, or suspended) is the subject of a notice; its owner,
if honest, walks into a shop or uses the app and proves who they are, and the operator's BSS
reports it, which lifts the measure at once (Art. 11 and 32: ``CaseService.verified``). Whether
and after how many hours each owner would do so is in the simulator's truth
(``truth/numbers.parquet``: ``reverifies``, ``reverify_after_h``; fraud numbers never do). Only
the replay reads it: the platform learns of a re-verification only as the BSS reports it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import structlog

from telshield.domain.cases import Case, CaseStatus
from telshield.domain.paging import Page
from telshield.services.cases import CaseService

log = structlog.get_logger(__name__)

ACTOR = "bss-reverification"
_MEASURES = (CaseStatus.VERIFYING, CaseStatus.RESTRICTED, CaseStatus.SUSPENDED)
_PAGE = 10_000


def reverify_hours(world: Path) -> dict[str, float]:
    """Hours after a measure within which each honest owner re-verifies (those who would)."""
    path = world / "truth" / "numbers.parquet"
    names = pq.read_schema(path).names
    if "reverify_after_h" not in names:  # a world written before re-verification was modelled
        return {}
    t = pq.read_table(path, columns=["msisdn", "reverifies", "reverify_after_h"]).to_pylist()
    return {r["msisdn"]: float(r["reverify_after_h"]) for r in t
            if r["reverifies"] and r["reverify_after_h"] is not None}


class Reverifiers:
    """Owners who re-verify when asked: each hour, lift the measures whose owner has done so."""

    def __init__(self, cases: CaseService, hours: dict[str, float]) -> None:
        self.cases, self.hours = cases, hours

    def act(self, now: datetime) -> int:
        """Report, as the BSS would, every re-verification completed by ``now``; returns how
        many measures were lifted."""
        if not self.hours:
            return 0
        done = 0
        for status in _MEASURES:
            for case in self._cases(status):
                h = self.hours.get(case.msisdn)
                if h is None or case.id is None:
                    continue
                asked = self._asked(case.id)
                if asked is not None and now >= asked + timedelta(hours=h):
                    self.cases.verified(case.id, actor=ACTOR, note="completed at a shop")
                    done += 1
        if done:
            log.info("replay.reverified", cases=done, at=now.isoformat())
        return done

    def _cases(self, status: CaseStatus) -> list[Case]:
        out: list[Case] = []
        offset = 0
        while True:
            page = self.cases.find(status=status.value, page=Page(_PAGE, offset))
            out.extend(page)
            if len(page) < _PAGE:
                return out
            offset += _PAGE

    def _asked(self, case_id: int) -> datetime | None:
        """When the case's first measure was taken (the owner was asked from then on)."""
        acts = self.cases.actions(case_id=case_id, page=Page(1000))
        times = [a.at for a in acts if a.to_status in _MEASURES and a.from_status not in _MEASURES]
        return min(times) if times else None
