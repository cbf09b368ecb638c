"""The request law without a database: moves allowed from each status, two people for
maker-checker, the SLA deadline and what counts as a breach."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from telshield.domain.errors import Conflict, InvalidInput
from telshield.domain.police import PoliceRequest, RequestStatus, parse_unit_code

T0 = datetime(2026, 3, 1, 9)


def _new(**change: str) -> PoliceRequest:
    args = {"unit": "U", "kind": "control", "target_kind": "number", "target": "8613800000001",
            "action": "suspend", "legal_doc": "d", "case_ref": "c", "reason": "r", **change}
    return PoliceRequest.new(**args, by="cop", at=T0, sla=timedelta(hours=2))


@pytest.mark.parametrize(("steps", "allowed"), [
    ((), {"prepare", "reject"}),
    (("prepare",), {"approve", "reject"}),
    (("prepare", "approve"), set()),
    (("reject",), set()),
])
def test_moves_from_each_status(steps: tuple[str, ...], allowed: set[str]) -> None:
    q = _new()
    for step in steps:
        q = _step(q, step, "ann" if step == "prepare" else "bob")
    for step in ("prepare", "approve", "reject"):
        if step in allowed:
            _step(q, step, "bob")
        else:
            with pytest.raises(Conflict):
                _step(q, step, "bob")


def _step(q: PoliceRequest, step: str, by: str) -> PoliceRequest:
    if step == "prepare":
        return q.prepare(by=by, at=T0)
    if step == "approve":
        return q.approve(by=by, at=T0)
    return q.reject(by=by, at=T0, reason="no document")


def test_the_maker_never_approves() -> None:
    q = _new().prepare(by="ann", at=T0)
    with pytest.raises(Conflict, match="another person"):
        q.approve(by="ann", at=T0)
    assert q.approve(by="bob", at=T0).status is RequestStatus.ANSWERED


@pytest.mark.parametrize(("answered_after", "now_after", "breached"), [
    (None, 1, False), (None, 3, True), (1, 30, False), (3, 30, True)])
def test_breaches(answered_after: int | None, now_after: int, breached: bool) -> None:
    q = _new()
    assert q.deadline == T0 + timedelta(hours=2)
    if answered_after is not None:
        at = T0 + timedelta(hours=answered_after)
        q = q.prepare(by="ann", at=at).approve(by="bob", at=at)
    assert q.breached(T0 + timedelta(hours=now_after)) is breached


@pytest.mark.parametrize(("change", "field"), [
    ({"action": "wiretap"}, "action"), ({"kind": "query"}, "action"),
    ({"target": "８６１３８"}, "target"), ({"reason": ""}, "reason"),
    ({"target_kind": "id", "target": "ABC"}, "raw ID")])
def test_bad_fields_are_named(change: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        _new(**change)


def test_unit_codes() -> None:
    assert parse_unit_code(" NJ-PSB.FZ_1 ") == "NJ-PSB.FZ_1"
    for bad in ("", "NJ PSB", "-NJ", "x" * 65):
        with pytest.raises(InvalidInput, match="unit code"):
            parse_unit_code(bad)
