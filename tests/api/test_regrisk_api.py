"""The risk ranking and the batch audit over HTTP: analysts page through the ranking and read
the audit; roles without ``registrations.risk`` get 403."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.services import regrisk_lake as L

from telshield.api.app import create_app
from telshield.domain.alerts import Alert, Tier
from telshield.services.store import FixedClock
from telshield.settings import ApiSettings, Settings
from telshield.wiring import disposal


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0))
    L.build(settings.lake_dir)
    d = disposal(settings)
    L.mark(d.store, FixedClock(L.NOW))
    keys = {r: d.users.add(f"u-{r}", r, actor="test")[1]
            for r in ("sales", "disposer", "analyst", "auditor")}
    with TestClient(create_app(settings, disposal=d)) as client:
        yield client, keys


def test_analyst_pages_through_the_ranking(api: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = api
    h = {"X-API-Key": keys["analyst"]}
    r = client.get("/registrations/risk?by=staff&all_time=true&min_count=1", headers=h)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [x["key"] for x in items] == ["ST-BAD", "ST-ONE", "ST-OK", "ST-X"]
    assert items[0]["bad"] == 11 and items[0]["clued"] == 5 and items[0]["confirmed"] == 1
    assert items[1]["share"] == 1.0 and items[1]["lower"] < items[0]["lower"]
    r = client.get("/registrations/risk?by=staff&all_time=true&min_count=1&limit=2&offset=2",
                   headers=h)
    assert [x["key"] for x in r.json()["items"]] == ["ST-OK", "ST-X"]
    assert r.json()["offset"] == 2
    r = client.get("/registrations/risk?by=shop", headers=h)
    assert r.status_code == 422 and "channel" in r.text


def test_audit_over_http(api: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = api
    r = client.get("/registrations/audit?since=2026-01-01T00:00:00&top=1",
                   headers={"X-API-Key": keys["analyst"]})
    assert r.status_code == 200, r.text
    got = {s["name"]: s for s in r.json()}
    assert [x["msisdn"] for x in got["sanctioned"]["rows"]] == ["8613600000001",
                                                                "8613600000003"]
    assert got["over_limit"]["rows"][0]["numbers"] == 6
    assert [x["key"] for x in got["risk_channel"]["rows"]] == ["CH-A"]


@pytest.mark.parametrize("role", ["sales", "disposer", "auditor"])
def test_other_roles_are_forbidden(api: tuple[TestClient, dict[str, str]], role: str) -> None:
    client, keys = api
    h = {"X-API-Key": keys[role]}
    assert client.get("/registrations/risk?by=staff", headers=h).status_code == 403
    assert client.get("/registrations/audit?since=2026-01-01T00:00:00",
                      headers=h).status_code == 403


def test_the_check_uses_the_ranking_and_a_refresh_recomputes_it(
        api: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = api
    sales, analyst = {"X-API-Key": keys["sales"]}, {"X-API-Key": keys["analyst"]}

    def ask(n: int, channel: str, staff: str) -> list[str]:
        r = client.post("/registrations/check", headers=sales, json={
            "id_hash": f"{n:064x}", "channel_id": channel, "staff_id": staff,
            "msisdn": f"86135000000{n:02d}"})
        assert r.status_code == 200, r.text
        return [x["code"] for x in r.json()["reasons"]]

    # Default settings: above a 2% lower bound with 20 registrations or more.
    assert ask(1, "CH-A", "ST-BAD") == ["channel_risk", "staff_risk"]
    assert ask(2, "CH-B", "ST-OK") == []
    app = client.app
    with app.state.disposal.store.transaction() as tx:  # type: ignore[attr-defined]
        tx.alerts.upsert([Alert(L.ok(i), 0.9, Tier.VERIFY, (), L.NOW, datetime(2026, 2, 1))
                          for i in range(1, 16)])
    assert ask(3, "CH-B", "ST-OK") == []  # the copy in memory is an hour old at most
    r = client.post("/registrations/risk/refresh", headers=analyst)
    assert r.json() == {"refreshed": ["registry", "risk"]}
    assert ask(4, "CH-B", "ST-OK") == ["channel_risk", "staff_risk"]
