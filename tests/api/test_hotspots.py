"""Hotspots over HTTP: analysts list and open them with numbers in full, auditors see numbers
masked, roles without ``hotspots.read`` get 403, an unknown hotspot 404."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from tests.services.hotspotlake import UNTIL, Lake, write

from telshield.api.app import create_app
from telshield.domain.users import mask_number
from telshield.reference.numbering import load_plan_table
from telshield.services.hotspots import HotspotService, ScanParams
from telshield.services.lakeread import FeedReader
from telshield.settings import ApiSettings, Settings
from telshield.wiring import disposal


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    return load_plan_table(tmp_path_factory.mktemp("plan"))


@pytest.fixture
def api(tmp_path: Path, plan: pa.Table) -> Iterator[tuple[TestClient, dict[str, str], Lake]]:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0))
    lk = write(settings.lake_dir)
    d = disposal(settings)
    HotspotService(d.store, d.cases.clock, FeedReader(settings.lake_dir),
                   ScanParams(replicates=199), plan=lambda: plan).find(actor="t", until=UNTIL)
    keys = {r: d.users.add(f"u-{r}", r, actor="test")[1]
            for r in ("analyst", "auditor", "disposer", "sales")}
    with TestClient(create_app(settings, disposal=d)) as client:
        yield client, keys, lk


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_analyst_and_auditor(api: tuple[TestClient, dict[str, str], Lake]) -> None:
    client, keys, lk = api
    r = client.get("/v1/hotspots", headers=auth(keys["analyst"]))
    assert r.status_code == 200, r.text
    [h] = r.json()
    assert (h["ref"], h["city"], h["county"]) == ("HOT-000001", "Nanjing", "Liuhe")
    assert h["lat"] == pytest.approx(32.33) and h["factor"] > 10 and h["p_value"] <= 0.01
    one = client.get(f"/v1/hotspots/{h['id']}", headers=auth(keys["analyst"])).json()
    assert sorted(one["numbers"]) == sorted(lk.den)
    masked = client.get(f"/v1/hotspots/{h['id']}", headers=auth(keys["auditor"])).json()
    assert sorted(masked["numbers"]) == sorted(mask_number(n) for n in lk.den)
    later = client.get("/v1/hotspots", params={"since": "2026-11-10T00:00:00"},
                       headers=auth(keys["analyst"]))
    assert later.status_code == 200 and later.json() == []
    assert client.get("/v1/hotspots/99", headers=auth(keys["analyst"])).status_code == 404


def test_other_roles_are_refused(api: tuple[TestClient, dict[str, str], Lake]) -> None:
    client, keys, _ = api
    for role in ("disposer", "sales"):
        assert client.get("/v1/hotspots", headers=auth(keys[role])).status_code == 403
        assert client.get("/v1/hotspots/1", headers=auth(keys[role])).status_code == 403
    assert client.get("/v1/hotspots").status_code == 401
