"""The web pages over HTTP (no browser): login, CSRF refusal, role refusal, masking, and the
actions going through the same services as the API, with audit."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.web.conftest import N, World

from telshield.domain.users import Role
from telshield.web.i18n import MESSAGES

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _token(c: TestClient, path: str = "/web/login") -> str:
    m = CSRF.search(c.get(path).text)
    assert m is not None
    return m.group(1)


def login(world: World, role: str) -> TestClient:
    """A browser-like client logged in as the user of ``role``."""
    c = TestClient(world.app)
    r = c.post("/web/login", data={"csrf": _token(c), "name": role, "key": world.keys[role],
                                   "next": "/web/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


@pytest.fixture
def anon(world: World) -> Iterator[TestClient]:
    with TestClient(world.app) as c:
        yield c


def test_pages_need_a_session(anon: TestClient) -> None:
    for path in ("/web/", "/web/alerts", "/web/cases/1", "/web/audit", "/web/lists"):
        r = anon.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/web/login"), path
    assert anon.get("/", follow_redirects=False).headers["location"] == "/web/"


def test_login_refuses_a_wrong_key_or_another_users_key(world: World, anon: TestClient) -> None:
    token = _token(anon)
    r = anon.post("/web/login", data={"csrf": token, "name": "admin", "key": "tsk_wrong"})
    assert r.status_code == 401 and 'id="login-failed"' in r.text
    r = anon.post("/web/login", data={"csrf": token, "name": "admin",
                                      "key": world.keys["auditor"]})
    assert r.status_code == 401  # the auditor's key does not log in as admin
    assert anon.get("/web/audit", follow_redirects=False).status_code == 303


def test_post_without_the_csrf_token_is_refused(world: World) -> None:
    c = login(world, "disposer")
    case_id = world.d.cases.find(msisdn=N)[0].id
    before = world.d.cases.get(case_id or 0).status
    for data in ({"action": "restrict", "reason": "x"},
                 {"action": "restrict", "reason": "x", "csrf": "forged"}):
        r = c.post(f"/web/cases/{case_id}/act", data=data)
        assert r.status_code == 403 and 'id="error-message"' in r.text
    assert world.d.cases.get(case_id or 0).status == before
    anon = TestClient(world.app)
    r = anon.post("/web/login", data={"name": "admin", "key": world.keys["admin"]})
    assert r.status_code == 403  # the login form too


def test_each_role_sees_only_its_pages(world: World) -> None:
    may = {  # the pages of the navigation each role may open (domain/users.py GRANTS)
        "admin": {"/web/", "/web/alerts", "/web/cases", "/web/lists", "/web/audit",
                  "/web/dens", "/web/gangs", "/web/police", "/web/map", "/web/trace",
                  "/web/rules", "/web/registrations"},
        "analyst": {"/web/", "/web/alerts", "/web/cases", "/web/lists", "/web/dens",
                    "/web/gangs", "/web/police", "/web/map", "/web/trace", "/web/rules",
                    "/web/registrations"},
        "disposer": {"/web/", "/web/alerts", "/web/cases", "/web/lists", "/web/police"},
        "police": {"/web/lists", "/web/trace"},
        "auditor": {"/web/", "/web/alerts", "/web/cases", "/web/lists", "/web/audit",
                    "/web/dens", "/web/gangs", "/web/map"},
        "sales": set(),
    }
    assert set(may) == {r.value for r in Role}
    for role, pages in may.items():
        c = login(world, role)
        for path in ("/web/alerts", "/web/cases", "/web/lists", "/web/audit", "/web/dens",
                     "/web/gangs", "/web/police", "/web/map", "/web/trace", "/web/rules",
                     "/web/registrations"):
            r = c.get(path)
            assert r.status_code == (200 if path in pages else 403), (role, path)
            if r.status_code == 200:
                shown = set(re.findall(r'<li><a href="(/web/[a-z]*)"', r.text))
                assert shown == pages, role
        home = c.get("/web/", follow_redirects=False)
        expected = 200 if "/web/" in pages else 303 if pages else 403
        assert home.status_code == expected, role


def test_numbers_are_masked_for_auditors_only(world: World) -> None:
    full, masked = N, "138****5678"
    for role, sees in (("analyst", True), ("auditor", False), ("disposer", True)):
        c = login(world, role)
        text = c.get("/web/alerts").text + c.get("/web/cases").text
        assert (full in text) is sees and (masked in text) is not sees, role
    auditor = login(world, "auditor")
    assert "8613900001111" not in auditor.get("/web/lists").text
    assert "139****1111" in auditor.get("/web/lists").text
    assert N not in auditor.get("/web/audit").text


def test_a_role_that_may_not_act_is_refused_with_a_valid_token(world: World) -> None:
    case_id = world.d.cases.find(msisdn=N)[0].id
    for role in ("analyst", "auditor"):
        c = login(world, role)
        page = c.get(f"/web/cases/{case_id}")
        assert page.status_code == 200 and 'id="act-form"' not in page.text
        token = _token(c, page.url.path)
        r = c.post(f"/web/cases/{case_id}/act",
                   data={"csrf": token, "action": "suspend", "reason": "x"})
        assert r.status_code == 403, role
    assert world.d.cases.get(case_id or 0).status.value != "suspended"


def test_an_action_goes_through_the_service_with_audit(world: World) -> None:
    c = login(world, "disposer")
    case = world.d.cases.find(msisdn=N)[0]
    page = c.get(f"/web/cases/{case.id}")
    token = _token(c, page.url.path)
    r = c.post(f"/web/cases/{case.id}/act", data={"csrf": token, "action": "nuke",
                                                  "reason": "x"})
    assert r.status_code == 422 and "verify" in r.text  # the domain's message, as a page
    r = c.post(f"/web/cases/{case.id}/act", data={"csrf": token, "action": "restrict",
                                                  "reason": ""})
    assert r.status_code == 422 and "reason" in r.text
    r = c.post(f"/web/cases/{case.id}/act", data={"csrf": token, "action": "restrict",
                                                  "reason": "calls strangers"},
               follow_redirects=False)
    assert r.status_code == 303
    assert world.d.cases.get(case.id or 0).status.value == "restricted"
    last = world.d.audit.events(after=0, limit=1000, subject=f"case:{case.id}")[-1].event
    assert (last.actor, last.action) == ("disposer", "case.restrict")
    assert world.d.audit.verify().ok


def test_overview_shows_the_store_figures(world: World) -> None:
    c = login(world, "admin")
    text = c.get("/web/").text
    warned = re.findall(r'class="num warned">(\d+)<', text)
    assert warned == ["1", "1"]  # the one alert, detected today (CST) and this month
    assert 'id="trend"' in text and "data-chart=" in text
    assert "/web/static/vendor/echarts.simple.min.js" in text


def test_overview_shows_calls_by_route_from_the_decision_log(world: World) -> None:
    from telshield.domain.clock import store_epoch
    from telshield.screening.decisionlog import DecisionRecord, JsonLinesDecisionLog

    assert world.data_dir is not None
    log = JsonLinesDecisionLog(world.data_dir / "screening" / "decisions", node="w1-")
    at = store_epoch(world.clock.now()) - 60
    log.append(DecisionRecord("w1-1", at, N, "8613400001234", "radio", "reject", (), "v"))
    log.append(DecisionRecord("w1-2", at, "8613400005678", "8613400001234", "radio", "allow",
                              (), "v"))
    log.close()
    c = login(world, "admin")
    c.get("/web/")  # figures kept from an earlier view are served while the log is read anew
    from starlette.routing import Mount

    web = next(r.app for r in world.app.routes if isinstance(r, Mount) and r.path == "/web")
    assert isinstance(web, FastAPI)
    refresher = web.state.overview.figures.refresher
    if refresher is not None:
        refresher.join(timeout=60)
    text = c.get("/web/").text
    assert 'id="routes"' in text and 'id="routes-chart"' in text and 'data-kind="bars"' in text
    rows = re.findall(r'<tr id="route-([a-z_-]+)">.*?class="num screened">(\d+)<.*?'
                      r'class="num rejected">(\d+)<.*?class="num fraud">(\d+)<', text, re.S)
    by = {r: (int(s), int(j), int(f)) for r, s, j, f in rows}
    assert sum(by[r][0] for r in ("inter_province", "international", "inter_network",
                                  "local")) == 2
    assert sum(by[r][1] for r in ("inter_province", "international", "inter_network",
                                  "local")) == 1
    # N is alerted: its rejected call is a fraud call intercepted
    assert sum(by[r][2] for r in ("inter_province", "international", "inter_network",
                                  "local")) == 1
    assert MESSAGES["ov.no_history"][0] in text  # nothing a year before


def test_language_switch_and_catalogue(world: World) -> None:
    c = login(world, "admin")
    assert MESSAGES["nav.alerts"][0] in c.get("/web/alerts").text  # Chinese by default
    r = c.get("/web/lang/en?next=/web/alerts")
    assert r.status_code == 200 and MESSAGES["nav.alerts"][1] in r.text
    assert c.get("/web/lang/en?next=https://evil.example/", follow_redirects=False
                 ).headers["location"] == "/web/"


def test_vendored_files_are_served(anon: TestClient) -> None:
    for name in ("htmx.min.js", "echarts.simple.min.js"):
        r = anon.get(f"/web/static/vendor/{name}")
        assert r.status_code == 200 and len(r.content) > 10_000, name


def test_wrong_keys_lock_the_login_out(world: World) -> None:
    from telshield.api.lockout import Lockout

    saved = world.app.state.lockout
    strict = Lockout(2, 60)
    from starlette.routing import Mount

    web = next(r.app for r in world.app.routes if isinstance(r, Mount) and r.path == "/web")
    assert isinstance(web, FastAPI)
    web.state.lockout, before = strict, web.state.lockout
    assert before is saved  # one lockout for both faces: the API's
    try:
        c = TestClient(world.app)
        token = _token(c)
        for _ in range(2):
            assert c.post("/web/login", data={"csrf": token, "name": "admin",
                                              "key": "tsk_wrong"}).status_code == 401
        r = c.post("/web/login", data={"csrf": token, "name": "admin",
                                       "key": world.keys["admin"]})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0  # even the right key
    finally:
        web.state.lockout = before
