"""The registration check over HTTP: the sales system gets a decision with reasons, masked
numbers and the appeal channel; a raw ID number is refused without being echoed; staff
suspension takes effect on the next check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.services.feeds import write_feed

from telshield.api.app import create_app
from telshield.settings import ApiSettings, RegistrationSettings, Settings
from telshield.wiring import disposal

H = "9f" * 32
SANCTIONED = "cd" * 32
RAW = "11010519491231002X"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0),
                        registration=RegistrationSettings(cards_per_id=2,
                                                          appeal_channel="call 10086"))
    sub = {"imsi": "460001234567890", "holder_kind": "individual", "channel_id": "CH-1",
           "staff_id": "ST-0", "status": "active", "registered_at": datetime(2025, 1, 1)}
    write_feed(settings.lake_dir, "subscribers", [{**sub, "msisdn": "8613800000001",
                                                   "id_hash": H}])
    write_feed(settings.lake_dir, "sanctions", [
        {"id_hash": SANCTIONED, "starts_at": datetime(2025, 1, 1),
         "ends_at": datetime(2099, 1, 1), "reason": "sold cards", "authority": "Jiangsu PSB"}])
    d = disposal(settings)
    keys = {r: d.users.add(f"u-{r}", r, actor="test")[1]
            for r in ("sales", "disposer", "analyst")}
    with TestClient(create_app(settings, disposal=d)) as client:
        yield client, keys


def body(id_hash: str = H, msisdn: str = "13800000010", staff: str = "ST-1") -> dict[str, str]:
    return {"id_hash": id_hash, "holder_kind": "individual", "channel_id": "CH-1",
            "staff_id": staff, "terminal_id": "T-1", "msisdn": msisdn}


def test_sales_checks_and_is_told_why(api: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = api
    sales = {"X-API-Key": keys["sales"]}
    r = client.post("/registrations/check", json=body(), headers=sales)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["decision"] == "allow" and got["numbers_held"] == ["138****0001"]
    assert got["appeal_channel"] == ""
    r = client.post("/registrations/check", json=body(msisdn="13800000011"), headers=sales)
    assert r.json()["decision"] == "refuse"
    assert [x["code"] for x in r.json()["reasons"]] == ["card_limit"]
    assert r.json()["appeal_channel"] == "call 10086"
    r = client.post("/registrations/check", json=body(SANCTIONED), headers=sales)
    assert r.json()["decision"] == "refuse" and "Jiangsu PSB" in r.json()["reasons"][0]["text"]
    n = client.get(f"/registrations/numbers?id_hash={H}", headers=sales)
    assert n.json() == {"numbers": ["138****0001", "138****0010"]}
    denied = client.post("/registrations/check", json=body(),
                         headers={"X-API-Key": keys["disposer"]})
    assert denied.status_code == 403


def test_a_raw_id_is_refused_without_echo(api: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = api
    sales = {"X-API-Key": keys["sales"]}
    r = client.post("/registrations/check", json=body(RAW), headers=sales)
    assert r.status_code == 422 and RAW not in r.text and "raw ID" in r.text
    r = client.get(f"/registrations/numbers?id_hash={RAW}", headers=sales)
    assert r.status_code == 422 and RAW not in r.text


def test_staff_suspension_refuses_the_next_check(api: tuple[TestClient, dict[str, str]]
                                                 ) -> None:
    client, keys = api
    analyst, sales = {"X-API-Key": keys["analyst"]}, {"X-API-Key": keys["sales"]}
    r = client.put("/registrations/staff-suspensions/ST-7", json={"reason": "bulk opening"},
                   headers=analyst)
    assert r.status_code == 201 and r.json()["actor"] == "u-analyst"
    assert client.put("/registrations/staff-suspensions/ST-7", json={"reason": "x"},
                      headers=analyst).status_code == 409
    r = client.post("/registrations/check", json=body(staff="ST-7"), headers=sales)
    assert r.json()["decision"] == "refuse"
    assert r.json()["reasons"][0]["code"] == "staff_suspended"
    listed = client.get("/registrations/staff-suspensions", headers=analyst).json()
    assert [x["staff_id"] for x in listed] == ["ST-7"]
    r = client.delete("/registrations/staff-suspensions/ST-7?reason=cleared", headers=analyst)
    assert r.status_code == 200 and r.json()["lifted_by"] == "u-analyst"
    assert client.get("/registrations/staff-suspensions", headers=analyst).json() == []
    assert client.delete("/registrations/staff-suspensions/ST-7?reason=again",
                         headers=analyst).status_code == 404
