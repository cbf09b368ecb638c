"""Redress through the API with real keys: a decision found by the id its 608 carried, an
appeal filed on the caller's case, recorded on its list entry, or refused when nothing stands
against the number; numbers masked for the auditor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from telshield.api.app import create_app
from telshield.domain.alerts import Alert, Reason, Tier
from telshield.screening.decisionlog import JsonLinesDecisionLog
from telshield.screening.engine import Engine, new_node
from telshield.screening.snapshot import BLACK, VERIFY, Snapshot, SnapshotInput
from telshield.services.store import FixedClock
from telshield.settings import Settings
from telshield.wiring import disposal
from telshield.wiring.screening import log_dir

CASE_N, LISTED_N, SPOOFED_N, CALLEE = (
    "8613812345678", "8613812345679", "8613812345670", "8613900000001")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    settings = Settings(data_dir=tmp_path)
    d = disposal(settings, clock=FixedClock(datetime(2026, 3, 1, 9)))
    keys = {r: d.users.add(r, r, actor="t", unit="PSB")[1]
            for r in ("disposer", "analyst", "auditor", "police")}
    at = datetime(2026, 3, 1, 8)
    d.cases.intake([Alert(CASE_N, 0.75, Tier.VERIFY, (Reason("rule:x", "x"),), at, at)])
    d.lists.add("number", LISTED_N, "black", source="manual", reason="complaints", actor="t")
    # The screening engine decides three calls and logs them where the settings say.
    node = new_node()
    sink = JsonLinesDecisionLog(log_dir(settings), node=node)
    engine = Engine(decision_log=sink, node=node)
    engine.swap(Snapshot.build(SnapshotInput(
        list_numbers=np.array([int(LISTED_N)]), list_flags=np.array([BLACK], np.uint8),
        warned=np.array([int(CASE_N)]), warned_tiers=np.array([VERIFY], np.uint8),
        as_of=time.time(), version="redress-test")))
    ids = {n: engine.decide(n, CALLEE, ing).id
           for n, ing in ((CASE_N, "radio"), (LISTED_N, "radio"), (SPOOFED_N, "international"))}
    sink.close()
    with TestClient(create_app(settings, disposal=d)) as c:
        yield c, keys, ids


def call(c: TestClient, key: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    r = c.request(method, path, json=body, headers={"X-API-Key": key})
    return r.status_code, r.json()


def test_a_decision_is_shown_by_its_id_masked_for_the_auditor(
    api: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    c, k, ids = api
    status, d = call(c, k["disposer"], "GET", f"/v1/decisions/{ids[CASE_N]}")
    assert status == 200
    assert (d["caller"], d["outcome"], d["reasons"], d["snapshot"]) == (
        CASE_N, "reject", ["warning:verify"], "redress-test")
    status, d = call(c, k["auditor"], "GET", f"/v1/decisions/{ids[CASE_N]}")
    assert status == 200 and d["caller"] == "138****5678"
    assert call(c, k["police"], "GET", f"/v1/decisions/{ids[CASE_N]}")[0] == 403
    node = ids[CASE_N].rsplit("-", 1)[0]
    assert call(c, k["disposer"], "GET", f"/v1/decisions/{node}-ffff")[0] == 404
    assert call(c, k["disposer"], "GET", "/v1/decisions/not-an-id")[0] == 422


def test_an_appeal_reaches_the_callers_case(
    api: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    c, k, ids = api
    status, a = call(c, k["disposer"], "POST", "/v1/appeals",
                     {"decision_id": ids[CASE_N], "reason": "it is my own phone"})
    assert status == 201 and a["kind"] == "case" and a["appeal_id"]
    status, page = call(c, k["disposer"], "GET", f"/appeals?case_id={a['case_id']}")
    assert page["items"][0]["documents"] == [f"decision:{ids[CASE_N]}"]
    assert page["items"][0]["status"] == "pending"
    # A second appeal while the first is pending is a conflict, as on the case itself.
    status, body = call(c, k["disposer"], "POST", "/v1/appeals",
                        {"decision_id": ids[CASE_N], "reason": "again"})
    assert status == 409 and "pending appeal" in body["detail"]
    assert call(c, k["analyst"], "POST", "/v1/appeals",
                {"decision_id": ids[CASE_N], "reason": "x"})[0] == 403


def test_an_appeal_on_a_listed_number_is_recorded_for_the_disposers(
    api: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    c, k, ids = api
    # The 608's link: POST to /v1/appeals?decision=<id> with the reason.
    status, a = call(c, k["disposer"], "POST", f"/v1/appeals?decision={ids[LISTED_N]}",
                     {"reason": "the complaints were about my old number"})
    assert status == 201 and a["kind"] == "list_entry" and a["entry_id"]
    status, items = call(c, k["analyst"], "GET", "/v1/appeals")
    assert status == 200 and [(i["msisdn"], i["decision_id"], i["entry_id"]) for i in items] \
        == [(LISTED_N, ids[LISTED_N], a["entry_id"])]
    status, items = call(c, k["auditor"], "GET", "/v1/appeals")
    assert items[0]["msisdn"] == "138****5679" and LISTED_N not in items[0]["entry"]
    assert call(c, k["police"], "GET", "/v1/appeals")[0] == 403
    status, events = call(c, k["auditor"], "GET", "/audit?subject=list-appeals")
    assert status == 200 and events[0]["action"] == "appeal.list_entry"
    assert call(c, k["auditor"], "GET", "/audit/verify")[1]["ok"] is True


def test_nothing_to_appeal_against_a_spoofed_call(
    api: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    c, k, ids = api
    status, body = call(c, k["disposer"], "POST", "/v1/appeals",
                        {"decision_id": ids[SPOOFED_N], "reason": "that was not me"})
    assert status == 409 and "spoof:domestic_via_international" in body["detail"]
    status, body = call(c, k["disposer"], "POST", "/v1/appeals", {"reason": "which one?"})
    assert status == 422 and "decision" in body["detail"]
