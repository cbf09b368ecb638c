"""The API over a real store: the workflow through HTTP, errors mapped once, paging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from telshield.api.app import create_app
from telshield.domain.alerts import Alert, Reason, Tier
from telshield.services.store import FixedClock
from telshield.settings import ApiSettings, Settings
from telshield.wiring import disposal

N = "8613812345678"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0))
    d = disposal(settings, clock=FixedClock(datetime(2026, 3, 1, 9)))
    keys = {r: d.users.add(r, r, actor="t", unit="PSB")[1] for r in ("disposer", "police")}
    at = datetime(2026, 3, 1, 8)
    d.cases.intake([Alert(N, 0.75, Tier.VERIFY, (Reason("rule:x", "x"),), at, at)])
    with TestClient(create_app(settings, disposal=d)) as c:
        yield c, keys


def call(c: TestClient, key: str, method: str, path: str, body: Any = None) -> Any:
    r = c.request(method, path, json=body, headers={"X-API-Key": key})
    return r.status_code, r.json()


def test_workflow_over_http(client: tuple[TestClient, dict[str, str]]) -> None:
    c, k = client
    d = k["disposer"]
    status, page = call(c, d, "GET", "/cases?status=verifying")
    assert status == 200 and page["items"][0]["msisdn"] == N
    case_id = page["items"][0]["id"]
    status, body = call(c, d, "POST", f"/cases/{case_id}/actions",
                        {"action": "suspend", "reason": "no re-verification"})
    assert status == 200 and body["status"] == "suspended"
    status, body = call(c, d, "POST", f"/cases/{case_id}/actions",
                        {"action": "verify", "reason": "again"})
    assert status == 409 and body["error"] == "Conflict" and "allowed" in body["detail"]
    status, body = call(c, d, "POST", f"/cases/{case_id}/actions",
                        {"action": "nuke", "reason": "x"})
    assert status == 422 and "verify" in body["detail"]
    status, appeal = call(c, d, "POST", f"/cases/{case_id}/appeals",
                          {"reason": "phone stolen", "documents": ["report.pdf"]})
    assert status == 201
    status, body = call(c, d, "POST", f"/appeals/{appeal['id']}/decision",
                        {"passed": True, "reason": "report checks out"})
    assert status == 200 and body["status"] == "passed"
    assert call(c, d, "GET", f"/cases/{case_id}")[1]["status"] == "released"
    kinds = [a["action"] for a in call(c, d, "GET", f"/actions?case_id={case_id}")[1]["items"]]
    assert kinds == ["release", "suspend", "verify"]
    assert call(c, d, "GET", "/cases/999")[0] == 404


def test_bulk_and_paging(client: tuple[TestClient, dict[str, str]]) -> None:
    c, k = client
    # Our own numbers (Jiangsu China Mobile: no subscribers feed here, so the plan decides).
    den = [f"8613951{i:06d}" for i in range(30)]
    status, body = call(c, k["disposer"], "POST", "/cases/bulk",
                        {"action": "suspend", "reason": "den", "msisdns": den,
                         "group_ref": "den:1"})
    assert status == 200 and body == {"action": "suspend", "moved": 30, "opened": 30,
                                      "unchanged": 0}
    seen: list[int] = []
    for offset in (0, 10, 20, 30):
        items = call(c, k["disposer"], "GET", f"/cases?group_ref=den:1&limit=10&offset={offset}"
                     )[1]["items"]
        seen += [i["id"] for i in items]
    assert len(seen) == len(set(seen)) == 30


def test_police_block_beats_whitelist(client: tuple[TestClient, dict[str, str]]) -> None:
    c, k = client
    call(c, k["disposer"], "POST", "/lists",
         {"kind": "number", "value": N, "colour": "white", "reason": "VIP"})
    assert call(c, k["disposer"], "GET", f"/lists/check/{N}")[1]["colour"] == "white"
    status, _ = call(c, k["disposer"], "POST", "/lists",
                     {"kind": "number", "value": N, "colour": "black", "source": "police",
                      "reason": "x"})
    assert status == 422  # police entries only through the police route
    status, body = call(c, k["police"], "POST", "/lists/police-blocks",
                        {"value": N, "reason": "order 2026-17"})
    assert status == 201 and body["actor"] == "police (PSB)"
    decided = call(c, k["police"], "GET", f"/lists/check/{N}")[1]
    assert decided["police_ordered"] is True
    assert call(c, k["police"], "GET", "/lists/diff?from_version=1&to_version=2")[0] == 200


def test_an_enterprise_whitelist_entry_over_http(
    client: tuple[TestClient, dict[str, str]]
) -> None:
    """The owner and expiry of an industry card are set and read back through the API; an
    owner without an expiry is refused with the reason."""
    c, k = client
    status, body = call(c, k["disposer"], "POST", "/lists",
                        {"kind": "number", "value": N, "colour": "white", "reason": "card",
                         "owner": "Yangtze Logistics", "expires_at": "2027-03-01T00:00:00"})
    assert status == 201 and body["owner"] == "Yangtze Logistics"
    decided = call(c, k["disposer"], "GET", f"/lists/check/{N}")[1]
    assert (decided["owner"], decided["expires_at"]) == ("Yangtze Logistics",
                                                         "2027-03-01T00:00:00")
    status, body = call(c, k["disposer"], "POST", "/lists",
                        {"kind": "number", "value": N, "colour": "white", "reason": "card",
                         "owner": "Acme"})
    assert status == 422 and "expiry" in str(body)


def test_offnet_reports_over_http(tmp_path: Path) -> None:
    """Numbers we do not hold appear as report lines, masked for an auditor; the CSV export
    for their operators needs a role that sees numbers."""
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0))
    d = disposal(settings, clock=FixedClock(datetime(2026, 3, 1, 9)))
    keys = {r: d.users.add(r, r, actor="t")[1] for r in ("disposer", "auditor")}
    at = datetime(2026, 3, 1, 8)
    unicom, telecom = "8613000000001", "8618900000001"
    d.cases.intake([Alert(unicom, 0.95, Tier.SUSPEND, (Reason("rule:x", "x"),), at, at),
                    Alert(telecom, 0.75, Tier.VERIFY, (Reason("rule:y", "y"),), at, at)])
    with TestClient(create_app(settings, disposal=d)) as c:
        status, page = call(c, keys["disposer"], "GET", "/offnet-reports?operator=china_unicom")
        assert status == 200
        [line] = page["items"]
        assert line["msisdn"] == unicom and line["screening"] == "block"
        assert line["reasons"] == ["rule:x"]
        status, page = call(c, keys["auditor"], "GET", "/offnet-reports")
        assert status == 200 and len(page["items"]) == 2
        assert {x["msisdn"] for x in page["items"]}.isdisjoint({unicom, telecom})
        status, body = call(c, keys["auditor"], "GET", "/offnet-reports.csv")
        assert status == 403 and "may not offnet.export" in body["detail"]
        r = c.get("/offnet-reports.csv", headers={"X-API-Key": keys["disposer"]})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = r.text.splitlines()
        assert rows[0].startswith("operator,msisdn") and len(rows) == 3
        assert any(row.startswith(f"china_telecom,{telecom},") for row in rows)
        status, _ = call(c, keys["disposer"], "GET", "/offnet-reports?since=yesterday")
        assert status == 422
