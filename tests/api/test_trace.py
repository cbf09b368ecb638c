"""Trace over HTTP: an analyst traces a gang card and gets its ID-mates first, the trace is
audited under the analyst's name; roles without ``trace`` get 403."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.services.ganglake import Lake, write

from telshield.api.app import create_app
from telshield.settings import ApiSettings, Settings
from telshield.wiring import disposal


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Lake]]:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0))
    lk = write(settings.lake_dir)
    d = disposal(settings)
    keys = {r: d.users.add(f"u-{r}", r, actor="test", unit="NJ" if r == "police" else "")[1]
            for r in ("analyst", "police", "auditor", "disposer", "sales")}
    with TestClient(create_app(settings, disposal=d)) as client:
        yield client, keys, lk


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_analyst_traces_a_gang_card(api: tuple[TestClient, dict[str, str], Lake]) -> None:
    client, keys, lk = api
    r = client.get(f"/v1/trace/{lk.gang_a[0]}?depth=1", headers=auth(keys["analyst"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["number"] == lk.gang_a[0]
    assert {x["msisdn"] for x in body["links"][:2]} == set(lk.gang_a[1:3])
    assert body["links"][0]["evidence"][0]["kind"] in {"id", "staff", "terminal"}
    a = client.get(f"/audit?subject=msisdn:{lk.gang_a[0]}", headers=auth(keys["auditor"]))
    assert a.status_code == 200, a.text
    assert any(e["action"] == "trace" and e["actor"] == "u-analyst" for e in a.json())


@pytest.mark.parametrize("role", ["auditor", "disposer", "sales"])
def test_other_roles_get_403(api: tuple[TestClient, dict[str, str], Lake], role: str) -> None:
    client, keys, lk = api
    r = client.get(f"/v1/trace/{lk.gang_a[0]}", headers=auth(keys[role]))
    assert r.status_code == 403


def test_a_bad_number_is_refused(api: tuple[TestClient, dict[str, str], Lake]) -> None:
    client, keys, _ = api
    r = client.get("/v1/trace/+8613800000001", headers=auth(keys["police"]))
    assert r.status_code in (400, 422) and "number" in r.text
