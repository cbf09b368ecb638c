"""Numbers and ids are never cut, whatever the terminal's width: a truncated number in a
disposal table is a number an operator cannot act on."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from rich.console import Console

from telshield.cli import audit, cases, lists, users
from telshield.domain.audit import AuditEvent, ChainedEvent
from telshield.domain.cases import Case, CaseStatus
from telshield.domain.lists import Colour, ListEntry, Source, TargetKind
from telshield.domain.users import Role, User

AT = datetime(2026, 3, 1, 9, 30)
NUMBERS = ["8613812345678", "008613912345678", "861581234567890"]


def _render(table: object, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def _case(i: int, msisdn: str) -> Case:
    return Case(id=1_000_000 + i, msisdn=msisdn, status=CaseStatus.VERIFYING, tier="verify",
                opened_at=AT, updated_at=AT, deadline=AT, alert_id=i,
                group_ref="den:2026-03-jiangsu-nanjing-qinhuai-17")


@pytest.mark.parametrize("width", [80, 60])
def test_cases_table_keeps_whole_numbers_and_ids(width: int) -> None:
    out = _render(cases._table([_case(i, n) for i, n in enumerate(NUMBERS)]), width)
    assert max(len(line) for line in out.splitlines()) <= width
    for i, n in enumerate(NUMBERS):
        assert re.search(rf"\b{n}\b", out), (n, out)
        assert str(1_000_000 + i) in out


@pytest.mark.parametrize("width", [80, 60])
def test_lists_table_keeps_whole_values(width: int) -> None:
    entries = [ListEntry(id=77_000 + i, version=123_456, kind=TargetKind.RANGE, value=n,
                         value_end=n[:-1] + "9", colour=Colour.BLACK, source=Source.MANUAL,
                         police_ordered=True, reason="fraud calls reported by several victims",
                         actor="cli:ann", created_at=AT, expires_at=AT)
               for i, n in enumerate(NUMBERS)]
    out = _render(lists._table(entries), width)
    for i, n in enumerate(NUMBERS):
        assert re.search(rf"\b{n}\b", out) and re.search(rf"\b{n[:-1]}9\b", out), out
        assert str(77_000 + i) in out


def test_audit_and_users_tables_keep_ids() -> None:
    events = [ChainedEvent(seq=9_000_000 + i, prev_hash="a" * 64, hash="b" * 64, detail_text="{}",
                           event=AuditEvent(at=AT, actor="cli:somebody-long", action="case.act",
                                            subject=f"case:{1_000_000 + i}", detail={}))
              for i in range(3)]
    out = _render(audit._table(events), 60)
    for i in range(3):
        assert str(9_000_000 + i) in out and f"case:{1_000_000 + i}" in out
    people = [User(name=f"analyst-{i}-of-the-nanjing-centre", role=Role.ANALYST, unit="",
                   key_hash="x", active=True, created_at=AT) for i in range(2)]
    out = _render(users._table(people), 50)
    for i in range(2):
        assert f"analyst-{i}-of-the-nanjing-centre" in out
