"""Cases, their actions and appeals in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from telshield.domain.cases import (
    Action,
    ActionKind,
    Appeal,
    AppealStatus,
    Case,
    CaseStatus,
    Evidence,
)
from telshield.domain.errors import NotFound
from telshield.domain.paging import Page
from telshield.store.rows import Span, chunks, fast_executemany, naive_utc, span_counts
from telshield.store.tables import actions, appeals, cases

C, A, P = cases, actions, appeals


def _case(r: Any) -> Case:
    return Case(
        msisdn=r.msisdn, status=CaseStatus(r.status), tier=r.tier, opened_at=r.opened_at,
        updated_at=r.updated_at, deadline=r.deadline, alert_id=r.alert_id,
        group_ref=r.group_ref, id=int(r.id),
        evidence=Evidence(r.evidence["tier"], float(r.evidence["score"]),
                          tuple(r.evidence["reasons"])) if r.evidence else None,
    )


def _case_row(c: Case) -> dict[str, Any]:
    return {
        "msisdn": c.msisdn, "status": c.status.value, "tier": c.tier,
        "opened_at": naive_utc(c.opened_at), "updated_at": naive_utc(c.updated_at),
        "deadline": naive_utc(c.deadline), "alert_id": c.alert_id, "group_ref": c.group_ref,
        "is_open": not c.status.closed,
        "evidence": None if c.evidence is None else {
            "tier": c.evidence.tier, "score": c.evidence.score,
            "reasons": list(c.evidence.reasons)},
    }


class SqlCaseRepo:
    """CaseRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, id: int) -> Case:
        """One case by id."""
        r = self.conn.execute(sa.select(C).where(C.c.id == id)).first()
        if r is None:
            raise NotFound(f"no case {id}; list cases with GET /cases or `telshield cases list`")
        return _case(r)

    def open_for(self, msisdns: Sequence[str]) -> dict[str, Case]:
        """The open case of each number that has one."""
        out: dict[str, Case] = {}
        for part in chunks(list(dict.fromkeys(msisdns)), 5000):
            q = sa.select(C).where(C.c.msisdn.in_(part), C.c.is_open.is_(True))
            out.update((r.msisdn, _case(r)) for r in self.conn.execute(q))
        return out

    def last_released(self, msisdns: Sequence[str]) -> dict[str, Case]:
        """The latest case of each number whose latest case was released."""
        out: dict[str, Case] = {}
        for part in chunks(list(dict.fromkeys(msisdns)), 5000):
            last = sa.select(sa.func.max(C.c.id)).where(C.c.msisdn.in_(part)).group_by(C.c.msisdn)
            q = sa.select(C).where(C.c.id.in_(last.scalar_subquery()),
                                   C.c.status == CaseStatus.RELEASED.value)
            out.update((r.msisdn, _case(r)) for r in self.conn.execute(q))
        return out

    def add(self, cases_: Sequence[Case]) -> list[Case]:
        """Insert new open cases; return them with ids (read back through the one-open-case-
        per-number index, which is cheaper than RETURNING for a bulk of many thousands)."""
        if not cases_:
            return []
        fast_executemany(self.conn, sa.insert(C), [_case_row(c) for c in cases_])
        ids: dict[str, int] = {}
        for part in chunks([c.msisdn for c in cases_], 5000):
            q = sa.select(C.c.msisdn, C.c.id).where(C.c.msisdn.in_(part), C.c.is_open.is_(True))
            ids.update((m, int(i)) for m, i in self.conn.execute(q))
        try:
            return [replace(c, id=ids[c.msisdn]) for c in cases_]
        except KeyError as e:
            raise ValueError(f"case on {e} was added closed: new cases must be open") from None

    def save(self, cases_: Sequence[Case]) -> None:
        """Write back changed cases (by id)."""
        if not cases_:
            return
        stmt = sa.update(C).where(C.c.id == sa.bindparam("b_id")).values(
            status=sa.bindparam("status"), tier=sa.bindparam("tier"),
            updated_at=sa.bindparam("updated_at"), deadline=sa.bindparam("deadline"),
            alert_id=sa.bindparam("alert_id"), group_ref=sa.bindparam("group_ref"),
            is_open=sa.bindparam("is_open"), evidence=sa.bindparam("evidence"),
        )
        rows = []
        for c in cases_:
            row = _case_row(c)
            row["b_id"] = c.id
            del row["msisdn"], row["opened_at"]
            rows.append(row)
        fast_executemany(self.conn, stmt, rows)

    def find(
        self, *, msisdn: str = "", status: str = "", group_ref: str = "", page: Page = Page()
    ) -> list[Case]:
        """Cases, newest first, filtered and paginated."""
        q = sa.select(C)
        for col, v in (("msisdn", msisdn), ("status", status), ("group_ref", group_ref)):
            if v:
                q = q.where(C.c[col] == v)
        q = q.order_by(C.c.id.desc()).limit(page.limit).offset(page.offset)
        return [_case(r) for r in self.conn.execute(q)]

    def counts(self) -> dict[str, int]:
        """How many cases are in each status."""
        q = sa.select(C.c.status, sa.func.count()).group_by(C.c.status)
        return {str(k): int(n) for k, n in self.conn.execute(q)}

    def overdue(self, at: datetime, statuses: Sequence[CaseStatus]) -> list[Case]:
        """Cases in ``statuses`` whose deadline has passed."""
        q = sa.select(C).where(_overdue(at, statuses)).order_by(C.c.id)
        return [_case(r) for r in self.conn.execute(q)]

    def count_overdue(self, at: datetime, statuses: Sequence[CaseStatus]) -> int:
        """How many cases :meth:`overdue` would return, counted in the database."""
        q = sa.select(sa.func.count()).select_from(C).where(_overdue(at, statuses))
        return int(self.conn.execute(q).scalar_one())


def _overdue(at: datetime, statuses: Sequence[CaseStatus]) -> sa.ColumnElement[bool]:
    return sa.and_(C.c.status.in_([s.value for s in statuses]), C.c.deadline.is_not(None),
                   C.c.deadline <= naive_utc(at))


def _action(r: Any) -> Action:
    return Action(
        case_id=int(r.case_id), kind=ActionKind(r.kind), actor=r.actor, at=r.at,
        reason=r.reason, from_status=CaseStatus(r.from_status),
        to_status=CaseStatus(r.to_status), deadline=r.deadline, notice=r.notice, id=int(r.id),
    )


class SqlActionRepo:
    """ActionRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, actions_: Sequence[Action]) -> int:
        """Insert actions; return how many."""
        rows = [
            {"case_id": a.case_id, "kind": a.kind.value, "actor": a.actor, "at": naive_utc(a.at),
             "reason": a.reason, "from_status": a.from_status.value,
             "to_status": a.to_status.value, "deadline": naive_utc(a.deadline),
             "notice": a.notice}
            for a in actions_
        ]
        fast_executemany(self.conn, sa.insert(A), rows)
        return len(rows)

    def find(self, *, case_id: int | None = None, kind: str = "", page: Page = Page()
             ) -> list[Action]:
        """Actions, newest first, filtered and paginated."""
        q = sa.select(A)
        if case_id is not None:
            q = q.where(A.c.case_id == case_id)
        if kind:
            q = q.where(A.c.kind == kind)
        q = q.order_by(A.c.id.desc()).limit(page.limit).offset(page.offset)
        return [_action(r) for r in self.conn.execute(q)]


    def counts(self, *, since: datetime | None = None, until: datetime | None = None,
               reason: str | None = None) -> dict[str, int]:
        """How many actions of each kind were taken (in [since, until), with this reason)."""
        q = sa.select(A.c.kind, sa.func.count()).group_by(A.c.kind)
        if since is not None:
            q = q.where(A.c.at >= naive_utc(since))
        if until is not None:
            q = q.where(A.c.at < naive_utc(until))
        if reason is not None:
            q = q.where(A.c.reason == reason)
        return {str(k): int(n) for k, n in self.conn.execute(q)}

    def span_counts(self, spans: Sequence[Span], *, reason: str | None = None
                    ) -> list[tuple[dict[str, int], dict[str, int]]]:
        """Per span: actions of each kind, and those of them with ``reason`` (one query)."""
        return span_counts(self.conn, A.c.kind, A.c.at, spans,
                           also=None if reason is None else A.c.reason == reason)

    def per_day(self, since: datetime, *, shift: timedelta, days: int
                ) -> list[tuple[str, str, int]]:
        """(day, kind, count) of the actions in the ``days`` days from ``since``."""
        # One range count per day on the (at, kind) index: no function evaluated per row.
        parts = []
        for i in range(days):
            lo = since + timedelta(days=i)
            label = (lo + shift).date().isoformat()
            parts.append(
                sa.select(sa.literal(label).label("day"), A.c.kind, sa.func.count().label("n"))
                .where(A.c.at >= naive_utc(lo), A.c.at < naive_utc(lo + timedelta(days=1)))
                .group_by(A.c.kind))
        if not parts:
            return []
        return [(str(d), str(k), int(n)) for d, k, n in self.conn.execute(sa.union_all(*parts))]


def _appeal(r: Any) -> Appeal:
    return Appeal(
        case_id=int(r.case_id), reason=r.reason, documents=tuple(r.documents),
        filed_at=r.filed_at, filed_by=r.filed_by, status=AppealStatus(r.status),
        decided_by=r.decided_by, decided_at=r.decided_at, decision_reason=r.decision_reason,
        id=int(r.id),
    )


class SqlAppealRepo:
    """AppealRepo over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, appeal: Appeal) -> Appeal:
        """Insert an appeal."""
        i = self.conn.execute(
            sa.insert(P).returning(P.c.id).values(
                case_id=appeal.case_id, reason=appeal.reason, documents=list(appeal.documents),
                filed_at=naive_utc(appeal.filed_at), filed_by=appeal.filed_by,
                status=appeal.status.value, decided_by="", decided_at=None, decision_reason="",
            )
        ).scalar_one()
        return replace(appeal, id=int(i))

    def get(self, id: int) -> Appeal:
        """One appeal by id."""
        r = self.conn.execute(sa.select(P).where(P.c.id == id)).first()
        if r is None:
            raise NotFound(f"no appeal {id}; list appeals with GET /appeals")
        return _appeal(r)

    def save(self, appeal: Appeal) -> None:
        """Write back a decided appeal."""
        self.conn.execute(
            sa.update(P).where(P.c.id == appeal.id).values(
                status=appeal.status.value, decided_by=appeal.decided_by,
                decided_at=naive_utc(appeal.decided_at), decision_reason=appeal.decision_reason,
            )
        )

    def counts(self, *, since: datetime | None = None, until: datetime | None = None
               ) -> dict[str, int]:
        """How many appeals are in each status (of those filed in [since, until))."""
        q = sa.select(P.c.status, sa.func.count()).group_by(P.c.status)
        if since is not None:
            q = q.where(P.c.filed_at >= naive_utc(since))
        if until is not None:
            q = q.where(P.c.filed_at < naive_utc(until))
        return {str(k): int(n) for k, n in self.conn.execute(q)}

    def span_counts(self, spans: Sequence[Span]) -> list[dict[str, int]]:
        """Per span: appeals filed in it, per status (one query)."""
        return [n for n, _ in span_counts(self.conn, P.c.status, P.c.filed_at, spans)]

    def find(self, *, case_id: int | None = None, status: str = "", page: Page = Page()
             ) -> list[Appeal]:
        """Appeals, newest first, filtered and paginated."""
        q = sa.select(P)
        if case_id is not None:
            q = q.where(P.c.case_id == case_id)
        if status:
            q = q.where(P.c.status == status)
        q = q.order_by(P.c.id.desc()).limit(page.limit).offset(page.offset)
        return [_appeal(r) for r in self.conn.execute(q)]
