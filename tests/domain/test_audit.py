"""The audit chain finds edited, inserted and deleted events and says where."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from telshield.domain.audit import GENESIS, AuditEvent, ChainedEvent, chain, verify

T0 = datetime(2026, 3, 1, 9)


def events(n: int) -> list[ChainedEvent]:
    return chain(0, GENESIS, [
        AuditEvent("alice", "case.verify", f"case:{i}", T0 + timedelta(seconds=i), {"i": i})
        for i in range(n)
    ])


def test_intact_chain_verifies() -> None:
    es = events(5)
    report = verify(es, (5, es[-1].hash))
    assert report.ok and report.checked == 5


def test_edit_is_found_at_its_seq() -> None:
    es = events(5)
    es[2] = replace(es[2], event=replace(es[2].event, actor="mallory"))
    report = verify(es)
    assert not report.ok and report.seq == 3 and "edited" in report.problem


def test_deletion_in_the_middle_is_found() -> None:
    es = events(5)
    del es[1]
    report = verify(es)
    assert not report.ok and report.seq == 3 and "deleted" in report.problem


def test_insertion_is_found() -> None:
    es = events(5)
    forged = chain(1, es[0].hash, [AuditEvent("m", "x", "y", T0)])[0]
    es.insert(1, forged)
    report = verify(es)
    assert not report.ok and report.seq == 2


def test_cut_tail_is_found_by_the_head() -> None:
    es = events(5)
    head = (5, es[-1].hash)
    report = verify(es[:4], head)
    assert not report.ok and "end" in report.problem


def test_rehashed_forgery_still_breaks_the_next_link() -> None:
    es = events(4)
    forged = replace(es[1], event=replace(es[1].event, subject="case:999"))
    es[1] = replace(forged, hash=chain(1, es[0].hash, [forged.event])[0].hash)
    report = verify(es)
    assert not report.ok and report.seq == 3


def test_edited_detail_text_is_found() -> None:
    es = events(3)
    es[1] = replace(es[1], detail_text=es[1].detail_text.replace('"i":1', '"i":7'))
    report = verify(es)
    assert not report.ok and report.seq == 2 and "edited" in report.problem
