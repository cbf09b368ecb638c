"""Dens over HTTP: analysts list and open dens with numbers in full, auditors see them masked,
roles without ``dens.read`` get 403, an unknown den 404."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.services.denlake import DenLake, write

from telshield.api.app import create_app
from telshield.domain.users import mask_number
from telshield.settings import ApiSettings, DenSettings, Settings
from telshield.wiring import disposal
from telshield.wiring.dens import dens


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], DenLake]]:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0),
                        dens=DenSettings(lookback_hours=120))
    lk = write(settings.lake_dir)
    d = disposal(settings)
    dens(settings, d.store, with_cases=False).find(actor="test")
    keys = {r: d.users.add(f"u-{r}", r, actor="test")[1]
            for r in ("analyst", "auditor", "disposer", "sales")}
    with TestClient(create_app(settings, disposal=d)) as client:
        yield client, keys, lk


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_analyst_sees_the_den_and_its_numbers(
        api: tuple[TestClient, dict[str, str], DenLake]) -> None:
    client, keys, lk = api
    r = client.get("/v1/dens", headers=auth(keys["analyst"]))
    assert r.status_code == 200, r.text
    [den] = r.json()
    assert den["ref"] == f"DEN-{den['id']:06d}" and den["county"] == "Jiangning"
    assert den["kind"] == "goip" and set(den["cells"]) == {"C-DEN", "C-DEN2"}
    one = client.get(f"/v1/dens/{den['id']}", headers=auth(keys["analyst"])).json()
    assert sorted(m["msisdn"] for m in one["members"]) == sorted(lk.den)
    assert one["imeis"] == sorted(lk.den_imeis)


def test_auditor_sees_numbers_masked(api: tuple[TestClient, dict[str, str], DenLake]) -> None:
    client, keys, lk = api
    did = client.get("/v1/dens", headers=auth(keys["auditor"])).json()[0]["id"]
    one = client.get(f"/v1/dens/{did}", headers=auth(keys["auditor"])).json()
    assert sorted(m["msisdn"] for m in one["members"]) == sorted(mask_number(n) for n in lk.den)
    assert not any(n in str(one) for n in lk.den)


@pytest.mark.parametrize("role", ["disposer", "sales"])
def test_other_roles_get_403(api: tuple[TestClient, dict[str, str], DenLake], role: str) -> None:
    client, keys, _ = api
    assert client.get("/v1/dens", headers=auth(keys[role])).status_code == 403
    assert client.get("/v1/dens/1", headers=auth(keys[role])).status_code == 403


def test_unknown_den_is_404(api: tuple[TestClient, dict[str, str], DenLake]) -> None:
    client, keys, _ = api
    r = client.get("/v1/dens/999", headers=auth(keys["analyst"]))
    assert r.status_code == 404 and "telshield dens list" in r.text
