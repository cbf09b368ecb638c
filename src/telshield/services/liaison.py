"""Police liaison (警企协同), the part the operating cycle runs: each police clue becomes a
police-ordered block on its number.

A clue names a number used in a reported fraud case. The list law gives a police-ordered block
precedence over everything, a whitelist entry included (``telshield.domain.lists.rank``), so the
number's next call set-up is rejected whatever else is known of it. Each clue is acted on once:
its block carries the clue id in its reason, and a clue whose block exists is skipped, so a
cycle that re-reads the same clues (after a crash, or a re-delivered feed file) adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from telshield.domain.errors import InvalidInput
from telshield.domain.lists import Colour, ListEntry, Source, TargetKind
from telshield.domain.paging import Page
from telshield.services.lakeread import FeedReader
from telshield.services.lists import ListService

log = structlog.get_logger(__name__)

ACTOR = "police-liaison"


def clue_reason(clue_id: str, case_ref: str) -> str:
    """The reason a clue's block carries; it names the clue, which makes blocking idempotent."""
    return f"police clue {clue_id} ({case_ref})" if case_ref else f"police clue {clue_id}"


def _names_clue(reason: str, clue_id: str) -> bool:
    prefix = f"police clue {clue_id}"
    return reason == prefix or reason.startswith(prefix + " ")


@dataclass(frozen=True)
class ClueResult:
    """What one pass over the clues did."""

    clues: int  # clues reported in the period
    blocked: int  # police-ordered blocks added
    already: int  # clues whose block was there already
    invalid: int  # clues whose number cannot be listed (logged)


class Liaison:
    """Turns police clues from the lake into police-ordered blocks, once per clue."""

    def __init__(self, lists: ListService, reader: FeedReader) -> None:
        self.lists, self.reader = lists, reader

    def block_clues(self, since: datetime | None, until: datetime) -> ClueResult:
        """Block the number of every clue reported in [since, until) (feed time) that has no
        block yet; all new blocks go in at one list version with their audit event."""
        clues = self.reader.table("clues", since, until)
        rows = self.reader.con.to_pyarrow(
            clues.select("clue_id", "reported_at", "msisdn", "case_ref")
            .order_by(["reported_at", "clue_id"])).to_pylist()
        if not rows:
            return ClueResult(0, 0, 0, 0)
        at = self.lists.clock.now()
        entries: list[ListEntry] = []
        already = invalid = 0
        seen: set[str] = set()
        for r in rows:
            clue_id, msisdn = str(r["clue_id"]), str(r["msisdn"])
            if clue_id in seen or self._blocked(clue_id, msisdn):
                already += 1
                continue
            seen.add(clue_id)
            try:
                entries.append(ListEntry.new(
                    TargetKind.NUMBER, msisdn, Colour.BLACK, source=Source.POLICE,
                    reason=clue_reason(clue_id, str(r["case_ref"] or "")), actor=ACTOR, at=at,
                    police_ordered=True))
            except InvalidInput as e:
                invalid += 1
                log.warning("liaison.clue_invalid", clue_id=clue_id, error=str(e))
        if entries:
            self.lists.add_many(entries, actor=ACTOR,
                                note=f"police-ordered blocks for {len(entries)} clue(s)")
        log.info("liaison.clues", clues=len(rows), blocked=len(entries), already=already,
                 invalid=invalid)
        return ClueResult(len(rows), len(entries), already, invalid)

    def _blocked(self, clue_id: str, msisdn: str) -> bool:
        """Whether a police entry on ``msisdn`` already names this clue."""
        offset = 0
        while True:
            page = self.lists.find(value=msisdn, source=Source.POLICE.value,
                                   page=Page(100, offset))
            if any(_names_clue(e.reason, clue_id) for e in page):
                return True
            if len(page) < 100:
                return False
            offset += 100
