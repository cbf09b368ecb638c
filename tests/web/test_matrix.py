"""The web pages' authorisation matrix: every route under /web x every role, allowed or refused
as the table says (written out by hand from domain/users.py GRANTS, not derived from the code),
with a test that the table covers every route the mounted app has; and no page without a
session. State-changing forms are posted with the session's valid CSRF token at ids that do not
exist, so an allowed role gets past the permission check (404/409/303), a refused one 403."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount
from tests.web.conftest import ROLES, N, World
from tests.web.test_pages import _token, login

A, AN, D, P, AU, S = ROLES
READERS = {A, AN, D, AU}  # alerts.read / cases.read
ACTORS = {A, D}  # cases.act, appeals.file, appeals.decide
AREA = {A, AN, AU}  # dens.read, gangs.read
POLICE = {A, AN, D}  # police.handle: the operator's side of police requests

# (method, path with {case} for the fixture's case, allowed roles)
MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/web/alerts", READERS),
    ("GET", "/web/cases", READERS),
    ("GET", "/web/cases/{case}", READERS),
    ("POST", "/web/cases/999999/act", ACTORS),
    ("POST", "/web/cases/999999/verified", ACTORS),
    ("POST", "/web/cases/999999/appeals", ACTORS),
    ("POST", "/web/appeals/999999/decision", ACTORS),
    ("GET", "/web/lists", {A, AN, D, P, AU}),
    ("GET", "/web/audit", {A, AU}),
    ("GET", "/web/audit/verify", {A, AU}),
    ("GET", "/web/dens", AREA),
    ("GET", "/web/dens/999999", AREA),
    ("POST", "/web/dens/999999/dispose", {A}),  # cases.act and dens.read: only an admin has both
    ("GET", "/web/gangs", AREA),
    ("GET", "/web/gangs/999999", AREA),
    ("POST", "/web/gangs/999999/dispose", {A}),  # cases.act and gangs.read
    ("GET", "/web/map", AREA),
    ("GET", "/web/police", POLICE),
    ("POST", "/web/police/999999/prepare", POLICE),
    ("POST", "/web/police/999999/approve", POLICE),
    ("POST", "/web/police/999999/reject", POLICE),
    ("POST", "/web/police/report", POLICE),  # no month posted: refused as input, not by role
    ("POST", "/web/police/escalate", POLICE),
]
# The overview: the reading roles see it; police are sent on to the lists; sales may not.
HOME = {A: 200, AN: 200, D: 200, AU: 200, P: 303, S: 403}
# Without a session, by design: the login form, logging out, switching the language.
PUBLIC = {("GET", "/web/login"), ("POST", "/web/login"), ("POST", "/web/logout"),
          ("GET", "/web/lang/{code}")}


def _routes(world: World) -> set[tuple[str, str]]:
    mount = next(r for r in world.app.routes if isinstance(r, Mount) and r.path == "/web")
    return {(m, "/web" + r.path) for r in mount.routes if isinstance(r, APIRoute)
            for m in r.methods}


def _same(template: str, path: str) -> bool:
    t, p = template.strip("/").split("/"), path.strip("/").split("/")
    return len(t) == len(p) and all(a == b or a.startswith("{") for a, b in zip(t, p, strict=True))


def test_the_matrix_covers_every_web_route(world: World) -> None:
    routes = _routes(world)
    covered = set(PUBLIC) | {("GET", "/web/")}
    for method, path, _ in MATRIX:
        covered |= {(m, p) for m, p in routes if m == method and _same(p, path)}
    assert routes - covered == set(), "add the new page to MATRIX"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_on_every_page(world: World, role: str) -> None:
    case = world.d.cases.find(msisdn=N)[0].id
    c = login(world, role)
    token = _token(c, "/web/lists" if role != S else "/web/login")
    for method, path, allowed in MATRIX:
        path = path.format(case=case)
        data = {"csrf": token, "action": "verify", "reason": "r", "note": "n", "passed": "no"}
        r = (c.get(path) if method == "GET" else
             c.post(path, data=data, follow_redirects=False))
        if role in allowed:
            assert r.status_code not in (401, 403), (role, method, path, r.status_code)
            assert r.status_code < 500, (role, method, path, r.text[:300])
        else:
            assert r.status_code == 403, (role, method, path, r.status_code)
            assert "may not" in r.text, (role, method, path)  # the role, not the CSRF token
    assert c.get("/web/", follow_redirects=False).status_code == HOME[role]


def test_no_page_without_a_session(world: World) -> None:
    anon = TestClient(world.app)
    token = _token(anon)
    for method, path, _ in MATRIX:
        path = path.format(case=1)
        r = (anon.get(path, follow_redirects=False) if method == "GET" else
             anon.post(path, data={"csrf": token}, follow_redirects=False))
        assert r.status_code in (303, 401), (method, path, r.status_code)  # to the login form
