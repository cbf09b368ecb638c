"""Clue bundles over HTTP: an analyst proposes a clue's bundle and confirms a subset (cases
opened, audited under the analyst's name, 409 the second time); analysts read numbers in full,
auditors masked; disposers, sales and police get 403 (police units see their own clues'
feedback under /v1/police/clues, scoped to the unit); auditors cannot decide."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.services.feeds import write_feed
from tests.services.ganglake import Lake, write

from telshield.api.app import create_app
from telshield.domain.users import mask_number
from telshield.settings import ApiSettings, Settings
from telshield.wiring import disposal


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Lake]]:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0))
    lk = write(settings.lake_dir)
    write_feed(settings.lake_dir, "clues", [
        {"clue_id": "CL-1", "reported_at": datetime(2026, 10, 28, 9), "msisdn": lk.gang_a[0],
         "case_ref": "JS-1", "fraud_type": "loan", "unit": "NJ"}])
    d = disposal(settings)
    keys = {r: d.users.add(f"u-{r}", r, actor="test", unit="NJ" if r == "police" else "")[1]
            for r in ("analyst", "police", "auditor", "disposer", "sales")}
    with TestClient(create_app(settings, disposal=d)) as client:
        yield client, keys, lk


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_analyst_proposes_and_confirms_part_of_a_bundle(
        api: tuple[TestClient, dict[str, str], Lake]) -> None:
    client, keys, lk = api
    r = client.post("/v1/clues/CL-1/bundle", headers=auth(keys["analyst"]))
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["status"] == "proposed" and b["msisdn"] == lk.gang_a[0]
    numbers = [m["msisdn"] for m in b["members"]]
    assert set(lk.gang_a[1:3]) <= set(numbers)
    assert client.post("/v1/clues/CL-404/bundle", headers=auth(keys["analyst"])).status_code == 404
    chosen = lk.gang_a[1:3]
    r = client.post(f"/v1/clues/bundles/{b['id']}/confirm", headers=auth(keys["analyst"]),
                    json={"reason": "the gang's ID-mates", "members": chosen})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["disposal"]["opened"] == 2 and done["disposal"]["action"] == "verify"
    assert done["bundle"]["status"] == ("confirmed" if len(numbers) == 2 else "partly_confirmed")
    again = client.post(f"/v1/clues/bundles/{b['id']}/reject", headers=auth(keys["analyst"]),
                        json={"reason": "no"})
    assert again.status_code == 409
    a = client.get(f"/audit?subject=bundle:{b['id']}", headers=auth(keys["auditor"]))
    assert [(e["action"], e["actor"]) for e in a.json()] == [
        ("bundle.propose", "u-analyst"), ("bundle.confirm", "u-analyst")]
    full = client.get(f"/v1/clues/bundles/{b['id']}", headers=auth(keys["analyst"])).json()
    assert {m["msisdn"] for m in full["members"] if m["decision"] == "confirmed"} == set(chosen)
    audited = client.get("/v1/clues/bundles", headers=auth(keys["auditor"])).json()
    assert audited[0]["msisdn"] == mask_number(lk.gang_a[0]) and audited[0]["members"] is None
    assert audited[0]["size"] == len(numbers)
    seen = client.get(f"/v1/clues/bundles/{b['id']}", headers=auth(keys["auditor"])).json()
    assert all("****" in m["msisdn"] for m in seen["members"])


@pytest.mark.parametrize(("role", "path", "method"), [
    ("disposer", "/v1/clues/bundles", "GET"), ("sales", "/v1/clues/bundles", "GET"),
    ("police", "/v1/clues/bundles", "GET"),
    ("police", "/v1/clues/CL-1/bundle", "POST"), ("auditor", "/v1/clues/bundles/1/reject",
                                                   "POST")])
def test_roles_that_may_not(api: tuple[TestClient, dict[str, str], Lake], role: str, path: str,
                            method: str) -> None:
    client, keys, _ = api
    r = client.request(method, path, headers=auth(keys[role]), json={"reason": "x"})
    assert r.status_code == 403
