"""Police liaison: each clue becomes one police-ordered block, which beats a whitelist."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from telshield.domain.lists import Colour, Source
from telshield.services.audit import AuditService
from telshield.services.lakeread import FeedReader
from telshield.services.liaison import ACTOR, Liaison, clue_reason
from telshield.services.lists import ListService
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore

from .feeds import write_feed

T0 = datetime(2026, 11, 2, 8)


def _clue(i: int, msisdn: str, hours: float, case_ref: str = "JS-1") -> dict[str, object]:
    return {"clue_id": f"CL{i}", "reported_at": T0 + timedelta(hours=hours), "msisdn": msisdn,
            "case_ref": case_ref, "fraud_type": "impersonation", "unit": "Nanjing PSB"}


def test_clues_become_police_blocks_once(store: SqlStore, tmp_path: Path) -> None:
    write_feed(tmp_path, "clues", [
        _clue(1, "8613800000001", 1), _clue(2, "8613800000002", 3),
        _clue(3, "8613800000001", 5, "JS-2"),  # a second case naming the same number
    ])
    lists = ListService(store, FixedClock(T0 + timedelta(hours=6)))
    lists.add("number", "8613800000001", "white", source="manual", reason="VIP", actor="ann")
    liaison = Liaison(lists, FeedReader(tmp_path))

    first = liaison.block_clues(None, T0 + timedelta(hours=4))
    assert (first.clues, first.blocked, first.already) == (2, 2, 0)
    entry = lists.decide("8613800000001")
    assert entry is not None and entry.police_ordered  # the police block beats the whitelist
    assert entry.colour is Colour.BLACK and entry.source is Source.POLICE
    assert entry.reason == clue_reason("CL1", "JS-1") and entry.actor == ACTOR

    # The same period again (a crash before the cycle recorded it): nothing new.
    again = liaison.block_clues(None, T0 + timedelta(hours=4))
    assert (again.blocked, again.already) == (0, 2)
    # The next period takes only the later clue, though its number is blocked already.
    later = liaison.block_clues(T0 + timedelta(hours=4), T0 + timedelta(hours=6))
    assert (later.clues, later.blocked) == (1, 1)
    police = lists.find(source="police")
    assert sorted(e.reason for e in police) == sorted(
        [clue_reason("CL1", "JS-1"), clue_reason("CL2", "JS-1"), clue_reason("CL3", "JS-2")])
    events = AuditService(store).events(actor=ACTOR)
    assert events and AuditService(store).verify().ok


def test_a_clue_with_a_number_that_cannot_be_listed_is_counted_not_fatal(
        store: SqlStore, tmp_path: Path) -> None:
    write_feed(tmp_path, "clues", [_clue(1, "12", 1), _clue(2, "8613800000002", 2)])
    lists = ListService(store, FixedClock(T0 + timedelta(hours=3)))
    r = Liaison(lists, FeedReader(tmp_path)).block_clues(None, T0 + timedelta(hours=3))
    assert (r.clues, r.blocked, r.invalid) == (2, 1, 1)


def test_no_clues_feed_means_nothing_to_do(store: SqlStore, tmp_path: Path) -> None:
    lists = ListService(store, FixedClock(T0))
    r = Liaison(lists, FeedReader(tmp_path)).block_clues(None, T0)
    assert (r.clues, r.blocked) == (0, 0) and lists.find() == []
