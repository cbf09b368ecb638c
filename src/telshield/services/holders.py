"""Who holds a number, from the lake: our subscribers are the numbers the ``subscribers`` feed
registers with us (latest row not cancelled); the numbering plan describes the others.

An installation that has not ingested the ``subscribers`` feed at all falls back to the plan:
numbers in our own operator's mobile segments (and home province, when one is set) count as
ours. That is logged as a warning on every lookup, since ported numbers are then misjudged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from telshield.domain.cases import Holder
from telshield.domain.numbers import NumberingPlan, classify
from telshield.services.lakeread import FeedReader
from telshield.services.offnet import describe

log = structlog.get_logger(__name__)


class LakeHolders:
    """Holders from the ``subscribers`` feed and the numbering plan (both read when first
    needed: a command that never disposes of anything never reads them)."""

    def __init__(self, reader: Callable[[], FeedReader], plan: Callable[[], NumberingPlan], *,
                 own_operator: str, own_province: str = "") -> None:
        self._reader_of, self._plan_of = reader, plan
        self._reader: FeedReader | None = None
        self._plan: NumberingPlan | None = None
        self.own_operator, self.own_province = own_operator, own_province

    @property
    def reader(self) -> FeedReader:
        """The lake reader, opened on first use."""
        if self._reader is None:
            self._reader = self._reader_of()
        return self._reader

    @property
    def plan(self) -> NumberingPlan:
        """The numbering plan, loaded on first use."""
        if self._plan is None:
            self._plan = self._plan_of()
        return self._plan

    def of(self, msisdns: Sequence[str]) -> dict[str, Holder]:
        """Ours if registered with us and not cancelled; otherwise described by the plan."""
        numbers = list(dict.fromkeys(msisdns))
        if not numbers:
            return {}
        own = self._registered(numbers)
        return {m: Holder(m, own=True) if m in own else describe(m, self.plan) for m in numbers}

    def _registered(self, numbers: list[str]) -> set[str]:
        r = self.reader
        if not r.files("subscribers"):
            log.warning("holders.no_subscribers_feed",
                        hint="ingest the subscribers feed; judging ownership by the plan")
            return {m for m in numbers if self._in_own_segment(m)}
        subs = r.table("subscribers")
        mine = subs.filter(subs.msisdn.isin(numbers))
        last = mine.group_by("msisdn").aggregate(status=mine.status.argmax(mine.registered_at))
        got = r.con.to_pyarrow(last.filter(last.status != "cancelled").select("msisdn"))
        return {str(m) for m in got["msisdn"].to_pylist() if m is not None}

    def _in_own_segment(self, number: str) -> bool:
        info = classify(number, self.plan)
        return (info.kind.value == "mobile" and info.operator.value == self.own_operator
                and (not self.own_province or info.province == self.own_province))
