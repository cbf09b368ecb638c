"""The police routes over HTTP: a bad request names its field, an ID is never echoed in full,
a control request is answered by two people and its response carries a hash that matches the
package; a clue sent over the API is in the unit's clue list with the operator's feedback; the
auditor reads the police events with numbers masked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from telshield.api.app import create_app
from telshield.services.store import FixedClock
from telshield.settings import ApiSettings, Settings
from telshield.wiring import disposal
from telshield.wiring.police import police

N = "8613812345678"
ID = "c" * 64


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0))
    d = disposal(settings, clock=FixedClock(datetime(2026, 3, 1, 9)))
    police(settings, d.store).add_unit("NJ-FZ", "Nanjing", actor="t")
    keys = {"cop": d.users.add("cop", "police", actor="t", unit="NJ-FZ")[1],
            "ann": d.users.add("ann", "analyst", actor="t")[1],
            "dan": d.users.add("dan", "disposer", actor="t")[1],
            "aud": d.users.add("aud", "auditor", actor="t")[1]}
    with TestClient(create_app(settings, disposal=d)) as client:
        yield client, {k: {"X-API-Key": v} for k, v in keys.items()}


def test_a_control_request_over_http(api: tuple[TestClient, dict[str, dict[str, str]]]
                                     ) -> None:
    client, h = api
    body = {"kind": "control", "target_kind": "number", "target": N, "action": "block",
            "legal_doc": "L-1", "case_ref": "NJ-1", "reason": "fraud calls"}
    bad = client.post("/v1/police/requests", json={**body, "target": "１３８"}, headers=h["cop"])
    assert bad.status_code == 422 and "target" in bad.text
    no_doc = {k: v for k, v in body.items() if k != "legal_doc"}
    r = client.post("/v1/police/requests", json=no_doc, headers=h["cop"])
    assert r.status_code == 422 and "legal_doc" in r.text
    q = client.post("/v1/police/requests", json=body, headers=h["cop"]).json()
    rid = q["id"]
    assert q["status"] == "submitted" and q["unit"] == "NJ-FZ"
    assert client.get(f"/v1/police/requests/{rid}/response", headers=h["cop"]).status_code == 409
    assert client.post(f"/v1/police/requests/{rid}/prepare", json={},
                       headers=h["ann"]).status_code == 200
    ok = client.post(f"/v1/police/requests/{rid}/approve", json={}, headers=h["dan"])
    assert ok.status_code == 200 and ok.json()["status"] == "answered"
    resp = client.get(f"/v1/police/requests/{rid}/response", headers=h["cop"]).json()
    text = json.dumps(resp["package"], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    assert hashlib.sha256(text.encode()).hexdigest() == resp["sha256"]
    assert resp["package"]["result"]["blocked"] == [N]
    assert client.get(f"/lists/check/{N}", headers=h["ann"]).json()["colour"] == "black"
    events = client.get("/audit?limit=1000", headers=h["aud"]).json()
    police_events = [e for e in events if e["action"].startswith("police.")]
    assert {"police.request", "police.prepare", "police.approve", "police.read"} <= {
        e["action"] for e in police_events}
    assert N not in json.dumps(police_events)  # the auditor sees numbers masked


def test_an_id_is_never_echoed_in_full(api: tuple[TestClient, dict[str, dict[str, str]]]
                                       ) -> None:
    client, h = api
    body = {"kind": "query", "target_kind": "id", "target": ID, "legal_doc": "L",
            "case_ref": "C", "reason": "R"}
    r = client.post("/v1/police/requests", json=body, headers=h["cop"])
    assert r.status_code == 201 and ID not in r.text
    assert ID not in client.get("/v1/police/queue", headers=h["ann"]).text
    raw = client.post("/v1/police/requests", json={**body, "target": "110101199001011234"},
                      headers=h["cop"])
    assert raw.status_code == 422 and "raw ID" in raw.text


def test_a_clue_over_http_and_its_feedback(api: tuple[TestClient, dict[str, dict[str, str]]]
                                           ) -> None:
    client, h = api
    r = client.post("/v1/police/clues", json={"msisdn": N, "case_ref": "NJ-5",
                                              "fraud_type": "investment", "clue_id": "NJ-C-5"},
                    headers=h["cop"])
    assert r.status_code == 201 and r.json() == {"clue_id": "NJ-C-5"}
    fb = client.post("/v1/police/clues/NJ-C-5/feedback",
                     json={"outcome": "blocked", "note": "blocked at 10:00"}, headers=h["ann"])
    assert fb.status_code == 201
    (clue,) = client.get("/v1/police/clues", headers=h["cop"]).json()
    assert clue["msisdn"] == N and clue["unit"] == "NJ-FZ"
    assert [f["outcome"] for f in clue["feedback"]] == ["blocked"]
