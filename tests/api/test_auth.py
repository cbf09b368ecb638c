"""Authorisation matrix: every route x every role, allowed or denied as the table says;
no key or a bad key is 401 everywhere; numbers masked for the auditor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from telshield.api.app import create_app
from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.users import Role
from telshield.services.store import FixedClock
from telshield.settings import ApiSettings, Settings
from telshield.wiring import Disposal, disposal
from telshield.wiring.police import police

ALL = set(Role)
A, AN, D, P, AU = Role.ADMIN, Role.ANALYST, Role.DISPOSER, Role.POLICE, Role.AUDITOR
S = Role.SALES
PEOPLE = ALL - {S}  # the sales system reads no lists
N = "8613812345678"
H = "9f" * 32

# (method, path, json body) -> roles allowed. Written out by hand, not derived from the code.
MATRIX: list[tuple[str, str, dict[str, Any] | None, set[Role]]] = [
    ("GET", "/lists", None, PEOPLE),
    ("POST", "/lists", {"kind": "number", "value": "8613900000001", "colour": "grey",
                        "reason": "r"}, {A, AN, D}),
    ("POST", "/lists/police-blocks", {"value": "8613900000002", "reason": "order 1"}, {A, P}),
    ("DELETE", "/lists/1?reason=r", None, {A, AN, D}),
    ("DELETE", "/lists/police-blocks/2?reason=r&release_ref=R-1", None, {A, P}),
    ("GET", f"/lists/check/{N}", None, PEOPLE),
    ("GET", "/lists/diff?from_version=0&to_version=1", None, PEOPLE),
    ("GET", "/lists/version", None, PEOPLE),
    ("GET", "/alerts", None, {A, AN, D, AU}),
    ("GET", "/cases", None, {A, AN, D, AU}),
    ("GET", "/cases/1", None, {A, AN, D, AU}),
    ("POST", "/cases/1/actions", {"action": "verify", "reason": "r"}, {A, D}),
    ("POST", "/cases/1/verified", {"note": "shop"}, {A, D}),
    ("POST", "/cases/bulk", {"action": "suspend", "reason": "den", "msisdns": [N]}, {A, D}),
    ("GET", "/actions", None, {A, AN, D, AU}),
    ("GET", "/appeals", None, {A, AN, D, AU}),
    ("GET", "/offnet-reports", None, {A, AN, D, AU}),
    ("GET", "/offnet-reports.csv", None, {A, AN, D}),
    ("POST", "/cases/1/appeals", {"reason": "mine"}, {A, D}),
    ("POST", "/appeals/1/decision", {"passed": False, "reason": "no"}, {A, D}),
    ("GET", "/audit", None, {A, AU}),
    ("GET", "/audit/verify", None, {A, AU}),
    ("GET", "/outbox", None, {A}),
    ("GET", "/users", None, {A}),
    ("POST", "/users", {"name": "x", "role": "analyst"}, {A}),
    ("GET", "/me", None, ALL),
    ("POST", "/registrations/check", {"id_hash": H, "channel_id": "CH-1", "staff_id": "ST-1",
                                      "msisdn": N}, {A, S}),
    ("GET", f"/registrations/numbers?id_hash={H}", None, {A, S}),
    ("GET", "/registrations/staff-suspensions", None, {A, AN}),
    ("PUT", "/registrations/staff-suspensions/ST-9", {"reason": "bulk opening"}, {A, AN}),
    ("DELETE", "/registrations/staff-suspensions/ST-9?reason=cleared", None, {A, AN}),
    ("GET", "/registrations/risk?by=staff", None, {A, AN}),
    ("POST", "/registrations/risk/refresh", None, {A, AN}),
    ("GET", "/registrations/audit?since=2026-01-01T00:00:00", None, {A, AN}),
    ("GET", "/v1/decisions/18f0a1-1", None, {A, AN, D, AU}),
    ("POST", "/v1/appeals", {"decision_id": "18f0a1-1", "reason": "mine"}, {A, D}),
    ("GET", "/v1/appeals", None, {A, AN, D, AU}),
    ("GET", "/v1/gangs", None, {A, AN, AU}),
    ("GET", "/v1/gangs/1", None, {A, AN, AU}),
    ("GET", "/v1/hotspots", None, {A, AN, AU}),
    ("GET", "/v1/hotspots/1", None, {A, AN, AU}),
    ("GET", "/v1/dens", None, {A, AN, AU}),
    ("GET", "/v1/dens/1", None, {A, AN, AU}),
    ("GET", f"/v1/trace/{N}", None, {A, AN, P}),
    # police coordination: officers file and read their unit's (an admin reaches them too, but
    # files nothing: it acts for no unit, 422); the operator's analysts and disposers answer
    ("POST", "/v1/police/requests", {"kind": "query", "target": N, "legal_doc": "L-1",
                                     "case_ref": "C-1", "reason": "r"}, {A, P}),
    ("GET", "/v1/police/requests", None, {A, P}),
    ("GET", "/v1/police/requests/1", None, {A, P}),
    ("POST", "/v1/police/requests/1/prepare", {"note": "checked"}, {A, AN, D}),
    ("POST", "/v1/police/requests/1/approve", {}, {A, AN, D}),
    ("POST", "/v1/police/requests/1/reject", {"reason": "no"}, {A, AN, D}),
    ("GET", "/v1/police/requests/1/response", None, {A, P}),
    ("GET", "/v1/police/queue", None, {A, AN, D}),
    ("POST", "/v1/police/escalate", None, {A, AN, D}),
    ("GET", "/v1/police/breaches", None, {A, AN, D}),
    ("POST", "/v1/police/clues", {"msisdn": N, "case_ref": "C-2", "fraud_type": "investment"},
     {A, P}),
    ("GET", "/v1/police/clues", None, {A, P}),
    ("POST", "/v1/police/clues/NO-SUCH/feedback", {"outcome": "traced"}, {A, AN, D}),
    ("GET", "/v1/police/reports/monthly?month=2026-03", None, {A, AN, D}),
    ("GET", "/v1/clues/bundles", None, {A, AN, AU}),
    ("GET", "/v1/clues/bundles/1", None, {A, AN, AU}),
    ("POST", "/v1/clues/CL-1/bundle", None, {A, AN}),
    ("POST", "/v1/clues/bundles/1/confirm", {"reason": "same den"}, {A, AN}),
    ("POST", "/v1/clues/bundles/1/reject", {"reason": "a family"}, {A, AN}),
]
# Answered without a key, by design (docs/api.md): a supervisor's probes.
# "/" only redirects to the web pages' login (their roles are tested in tests/web).
PUBLIC = [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/")]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[Role, str]]]:
    data = tmp_path_factory.mktemp("api")
    # every route is also tried with a wrong key: no lock-out in this suite (test_hardening)
    settings = Settings(data_dir=Path(data), api=ApiSettings(metrics_port=0,
                                                             key_max_failures=10_000))
    d: Disposal = disposal(settings, clock=FixedClock(datetime(2026, 3, 1, 9)))
    police(settings, d.store).add_unit("PSB", "a police unit", actor="test")
    keys = {r: d.users.add(f"u-{r.value}", r.value, actor="test", unit="PSB")[1] for r in Role}
    at = datetime(2026, 3, 1, 8)
    d.cases.intake([Alert(N, 0.95, Tier.SUSPEND, (Reason("rule:x", "x"),), at, at)])
    with TestClient(create_app(settings, disposal=d)) as client:
        yield client, keys


def test_matrix_covers_every_route(api: tuple[TestClient, dict[Role, str]]) -> None:
    client, _ = api
    routes = {(m, r.path) for r in client.app.routes
              if isinstance(r, APIRoute) for m in r.methods}
    covered = set(PUBLIC)
    for method, path, _, _ in MATRIX:
        for m, p in routes:
            if m == method and _same(p, path.split("?")[0]):
                covered.add((m, p))
    assert routes - covered == set(), "add the new route to MATRIX"


def test_only_the_probes_answer_without_a_key(api: tuple[TestClient, dict[Role, str]]) -> None:
    client, _ = api
    for method, path in PUBLIC:
        assert client.request(method, path).status_code == 200
    assert client.get("/openapi.json").status_code == 200  # the spec and its page are public
    assert client.get("/docs").status_code == 200


def _same(template: str, path: str) -> bool:
    t, p = template.strip("/").split("/"), path.strip("/").split("/")
    return len(t) == len(p) and all(a == b or a.startswith("{") for a, b in zip(t, p, strict=True))


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX,
                         ids=[f"{m} {p.split('?')[0]}" for m, p, _, _ in MATRIX])
def test_every_role_on_every_route(api: tuple[TestClient, dict[Role, str]], method: str,
                                   path: str, body: dict[str, Any] | None,
                                   allowed: set[Role]) -> None:
    client, keys = api
    assert client.request(method, path, json=body).status_code == 401
    assert client.request(method, path, json=body,
                          headers={"X-API-Key": "tsk_wrong"}).status_code == 401
    for role in Role:
        r = client.request(method, path, json=body,
                           headers={"Authorization": f"Bearer {keys[role]}"})
        if role in allowed:
            assert r.status_code not in (401, 403), (role, r.status_code, r.text)
            assert r.status_code < 500, r.text
        else:
            assert r.status_code == 403, (role, r.status_code, r.text)
            assert "may not" in r.json()["detail"]


def test_auditor_sees_numbers_masked(api: tuple[TestClient, dict[Role, str]]) -> None:
    client, keys = api
    def get(role: Role, path: str) -> Any:
        return client.get(path, headers={"X-API-Key": keys[role]}).json()
    assert get(D, f"/cases?msisdn={N}")["items"][0]["msisdn"] == N
    assert get(AU, f"/cases?msisdn={N}")["items"][0]["msisdn"] == "138****5678"
    assert get(AU, f"/alerts?msisdn={N}")["items"][0]["msisdn"] == "138****5678"
    audit = get(AU, "/audit?limit=1000")
    numbers = [e["detail"]["msisdn"] for e in audit if "msisdn" in e["detail"]]
    assert numbers and N not in numbers
    assert get(AU, "/audit/verify")["ok"] is True


def test_an_officer_sees_only_their_units_requests(
        api: tuple[TestClient, dict[Role, str]]) -> None:
    client, keys = api
    app = client.app
    assert isinstance(app, FastAPI)
    state = app.state
    state.police.add_unit("PSB-B", "another unit", actor="test")
    _, other = state.disposal.users.add("u-police-b", "police", actor="test", unit="PSB-B")
    mine = {"Authorization": f"Bearer {keys[P]}"}
    body = {"kind": "query", "target": N, "legal_doc": "L-9", "case_ref": "C-9", "reason": "r"}
    rid = client.post("/v1/police/requests", json=body, headers=mine).json()["id"]
    client.post(f"/v1/police/requests/{rid}/prepare", json={},
                headers={"X-API-Key": keys[AN]})
    assert client.post(f"/v1/police/requests/{rid}/approve", json={},
                       headers={"X-API-Key": keys[AN]}).status_code == 409  # maker-checker
    assert client.post(f"/v1/police/requests/{rid}/approve", json={},
                       headers={"X-API-Key": keys[D]}).status_code == 200
    assert client.get(f"/v1/police/requests/{rid}/response", headers=mine).status_code == 200
    theirs = {"X-API-Key": other}
    for path in (f"/v1/police/requests/{rid}", f"/v1/police/requests/{rid}/response"):
        r = client.get(path, headers=theirs)
        assert r.status_code == 404 and N not in r.text, (path, r.text)
    assert rid not in [q["id"] for q in client.get("/v1/police/requests", headers=theirs).json()]
    reads = [e for e in client.get("/audit?limit=1000", headers={"X-API-Key": keys[A]}).json()
             if e["action"] == "police.read" and e["subject"] == f"police_request:{rid}"]
    assert [e["actor"] for e in reads] == ["u-police"]  # the refused reads read nothing
