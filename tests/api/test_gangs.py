"""Gangs over HTTP: analysts list and open gangs with numbers in full, auditors see them masked,
roles without ``gangs.read`` get 403, an unknown gang 404."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.services.ganglake import Lake, write

from telshield.api.app import create_app
from telshield.domain.users import mask_number
from telshield.settings import ApiSettings, Settings
from telshield.wiring import disposal
from telshield.wiring.gangs import gangs


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Lake]]:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0))
    lk = write(settings.lake_dir)
    d = disposal(settings)
    gangs(settings, d.store, with_cases=False).find(actor="test")
    keys = {r: d.users.add(f"u-{r}", r, actor="test")[1]
            for r in ("analyst", "auditor", "disposer", "sales", "admin")}
    with TestClient(create_app(settings, disposal=d)) as client:
        yield client, keys, lk


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_analyst_sees_gangs_and_numbers(api: tuple[TestClient, dict[str, str], Lake]) -> None:
    client, keys, lk = api
    r = client.get("/v1/gangs", headers=auth(keys["analyst"]))
    assert r.status_code == 200, r.text
    listed = r.json()
    assert len(listed) == 2 and listed[0]["score"] >= listed[1]["score"]
    a = next(g for g in listed if g["staff_ids"] == ["ST-A-01"])
    assert a["ref"] == f"GANG-{a['id']:06d}" and a["signals"]["cards"] == 12
    one = client.get(f"/v1/gangs/{a['id']}", headers=auth(keys["analyst"])).json()
    assert sorted(m["msisdn"] for m in one["members"]) == sorted(lk.gang_a)
    assert one["links"] and all(x["a"] in lk.gang_a for x in one["links"])
    assert client.get(f"/v1/gangs/{a['id']}", headers=auth(keys["admin"])).status_code == 200


def test_auditor_sees_numbers_masked(api: tuple[TestClient, dict[str, str], Lake]) -> None:
    client, keys, lk = api
    gid = client.get("/v1/gangs", headers=auth(keys["auditor"])).json()[0]["id"]
    one = client.get(f"/v1/gangs/{gid}", headers=auth(keys["auditor"])).json()
    shown = {m["msisdn"] for m in one["members"]}
    assert shown <= {mask_number(n) for n in lk.gang_a + lk.gang_b}
    assert not shown & set(lk.gang_a + lk.gang_b)
    assert all("****" in x["a"] and "****" in x["b"] for x in one["links"])


def test_other_roles_are_refused(api: tuple[TestClient, dict[str, str], Lake]) -> None:
    client, keys, _ = api
    for role in ("disposer", "sales"):
        assert client.get("/v1/gangs", headers=auth(keys[role])).status_code == 403
        assert client.get("/v1/gangs/1", headers=auth(keys[role])).status_code == 403
    assert client.get("/v1/gangs").status_code == 401
    assert client.get("/v1/gangs/999", headers=auth(keys["analyst"])).status_code == 404
