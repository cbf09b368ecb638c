"""The API against bad input and abuse (docs/security.md): hostile JSON, oversized bodies,
police-ordered blocks, non-canonical numbers, wide whitelist entries, masking in the audit,
invisible user names and repeated wrong keys. Each test failed before its fix."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient

from telshield.api.app import create_app
from telshield.domain.users import Role
from telshield.services.store import FixedClock
from telshield.settings import ApiSettings, ListsSettings, Settings
from telshield.wiring import Disposal, disposal

N = "8613812345678"
NOW = datetime(2026, 3, 1, 9)
LIMIT = 64 * 1024  # api.max_body_bytes in these tests
FAILURES = 3  # api.key_max_failures in these tests


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[Role, str], Disposal]]:
    settings = Settings(
        data_dir=tmp_path,
        api=ApiSettings(metrics_port=0, max_body_bytes=LIMIT, key_max_failures=FAILURES,
                        key_window_s=60),
        lists=ListsSettings(white_min_digits=7),
    )
    d = disposal(settings, clock=FixedClock(NOW))
    keys = {r: d.users.add(f"u-{r.value}", r.value, actor="test", unit="PSB-1")[1] for r in Role}
    with TestClient(create_app(settings, disposal=d)) as client:
        yield client, keys, d


def call(client: TestClient, key: str, method: str, path: str, **kw: Any) -> Any:
    headers = {"X-API-Key": key, **kw.pop("headers", {})}
    return client.request(method, path, headers=headers, **kw)


ENTRY = {"kind": "number", "value": N, "colour": "black", "reason": "fraud"}


# --- 1. hostile JSON and oversized bodies ------------------------------------------------------

@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_a_body_are_refused_not_a_crash(
        api: tuple[TestClient, dict[Role, str], Disposal], constant: str) -> None:
    client, keys, _ = api
    for path, body in (
        ("/lists", f'{{"kind": "number", "value": {constant}, "colour": "black", '
                   '"reason": "r"}'),
        ("/cases/bulk", f'{{"action": "suspend", "reason": "r", "msisdns": [{constant}]}}'),
        ("/users", f'{{"name": {constant}, "role": "analyst"}}'),
    ):
        r = call(client, keys[Role.ADMIN], "POST", path, content=body,
                 headers={"content-type": "application/json"})
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert constant.lstrip("-") in r.json()["detail"] and "JSON" in r.json()["detail"]


def test_invalid_utf8_in_a_body_is_refused(
        api: tuple[TestClient, dict[Role, str], Disposal]) -> None:
    client, keys, _ = api
    r = call(client, keys[Role.ADMIN], "POST", "/lists",
             content=b'{"kind": "number", "value": "86\xff\xfe", "colour": "black", "reason": "r"}',
             headers={"content-type": "application/json"})
    assert r.status_code == 400 and "UTF-8" in r.json()["detail"]


@pytest.mark.parametrize(("offset", "stored"), [("+14:00", "2026-03-01T20:00:00"),
                                                ("-05:00", "2026-03-02T15:00:00"),
                                                ("Z", "2026-03-02T10:00:00")])
def test_an_expiry_with_an_offset_is_converted_to_store_time(
        api: tuple[TestClient, dict[Role, str], Disposal], offset: str, stored: str) -> None:
    client, keys, d = api
    r = call(client, keys[Role.ANALYST], "POST", "/lists",
             json={**ENTRY, "expires_at": f"2026-03-02T10:00:00{offset}"})
    assert r.status_code == 201, r.text
    assert r.json()["expires_at"] == stored  # naive UTC, as every store time
    assert str(d.lists.decide(N).expires_at).replace(" ", "T") == stored  # type: ignore[union-attr]


def test_a_body_over_the_limit_is_refused_before_parsing(
        api: tuple[TestClient, dict[Role, str], Disposal]) -> None:
    client, keys, d = api
    big = {**ENTRY, "reason": "x" * 1000, "pad": "y" * LIMIT}
    r = call(client, keys[Role.ADMIN], "POST", "/lists", json=big)
    assert r.status_code == 413 and str(LIMIT) in r.json()["detail"]
    # without a Content-Length (chunked), the limit holds as the body arrives
    chunks = (b'{"pad": "' + b"y" * 8192 + b'",' if i == 0 else b" " * 8192 for i in range(20))
    r = call(client, keys[Role.ADMIN], "POST", "/lists", content=chunks,
             headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert d.lists.current_version() == 0  # nothing was added
    ok = call(client, keys[Role.ADMIN], "POST", "/lists", json=ENTRY)
    assert ok.status_code == 201  # a body under the limit goes through


# --- 3. lists: police blocks, one number law, wide whitelist entries --------------------------

def _police_block(client: TestClient, keys: dict[Role, str]) -> int:
    r = call(client, keys[Role.POLICE], "POST", "/lists/police-blocks",
             json={"value": N, "reason": "order PSB-1/2026/7"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.mark.parametrize("role", [Role.ANALYST, Role.DISPOSER, Role.ADMIN])
def test_a_police_block_is_not_lifted_as_an_ordinary_entry(
        api: tuple[TestClient, dict[Role, str], Disposal], role: Role) -> None:
    client, keys, d = api
    entry_id = _police_block(client, keys)
    r = call(client, keys[role], "DELETE", f"/lists/{entry_id}?reason=mistake")
    assert r.status_code == 403, r.text
    assert "/lists/police-blocks/" in r.json()["detail"]
    assert d.lists.decide(N).police_ordered  # type: ignore[union-attr]  # still blocked


@pytest.mark.parametrize("role", [Role.ANALYST, Role.DISPOSER, Role.AUDITOR])
def test_only_police_or_an_admin_lift_a_police_block(
        api: tuple[TestClient, dict[Role, str], Disposal], role: Role) -> None:
    client, keys, d = api
    entry_id = _police_block(client, keys)
    r = call(client, keys[role], "DELETE",
             f"/lists/police-blocks/{entry_id}?reason=r&release_ref=PSB-1/2026/9")
    assert r.status_code == 403
    assert d.lists.decide(N) is not None


@pytest.mark.parametrize("role", [Role.POLICE, Role.ADMIN])
def test_a_police_block_is_lifted_with_a_recorded_release(
        api: tuple[TestClient, dict[Role, str], Disposal], role: Role) -> None:
    client, keys, d = api
    entry_id = _police_block(client, keys)
    path = f"/lists/police-blocks/{entry_id}?reason=case closed"
    assert call(client, keys[role], "DELETE", path).status_code == 422  # no release reference
    assert call(client, keys[role], "DELETE", path + "&release_ref=%20").status_code == 422
    r = call(client, keys[role], "DELETE", path + "&release_ref=PSB-1/2026/9")
    assert r.status_code == 200, r.text
    assert d.lists.decide(N) is None
    (event,) = [e for e in d.audit.events(limit=1000) if e.event.action == "list.police_lift"]
    assert event.event.detail["release_ref"] == "PSB-1/2026/9"
    assert event.event.detail["id"] == entry_id and event.event.actor.startswith(f"u-{role}")
    # an ordinary entry is not lifted through the police route
    other = call(client, keys[Role.ADMIN], "POST", "/lists", json=ENTRY).json()["id"]
    r = call(client, keys[role], "DELETE",
             f"/lists/police-blocks/{other}?reason=r&release_ref=PSB-1/2026/9")
    assert r.status_code == 409


@pytest.mark.parametrize("value", ["0" + N, "+" + N, f" {N}", "\uff18\uff16" + N[2:],
                                   "\u0668\u0666" + N[2:]])
def test_a_second_spelling_of_a_listed_number_is_refused(
        api: tuple[TestClient, dict[Role, str], Disposal], value: str) -> None:
    client, keys, d = api
    assert call(client, keys[Role.ANALYST], "POST", "/lists", json=ENTRY).status_code == 201
    r = call(client, keys[Role.ANALYST], "POST", "/lists",
             json={**ENTRY, "value": value, "colour": "white"})
    assert r.status_code == 422 and "canonical" in r.json()["detail"]
    assert d.lists.decide(N).colour.value == "black"  # type: ignore[union-attr]


def test_bulk_disposal_refuses_non_canonical_numbers(
        api: tuple[TestClient, dict[Role, str], Disposal]) -> None:
    client, keys, d = api
    full_width = "\uff18\uff16\uff11\uff13\uff18" + N[5:]
    r = call(client, keys[Role.DISPOSER], "POST", "/cases/bulk",
             json={"action": "suspend", "reason": "den", "msisdns": [N, full_width]})
    assert r.status_code == 422 and "canonical" in r.json()["detail"]
    assert N in r.json()["detail"]  # the message says the canonical form
    assert d.cases.outbox() == []  # no BSS command queued for anyone


@pytest.mark.parametrize(("body", "admin_only"), [
    ({"kind": "prefix", "value": "8"}, True),
    ({"kind": "prefix", "value": "861381"}, True),
    ({"kind": "range", "value": "8613800000000", "value_end": "8613899999999"}, True),
    ({"kind": "prefix", "value": "8613812"}, False),
    ({"kind": "range", "value": "8613800000000", "value_end": "8613800009999"}, False),
])
def test_wide_white_entries_only_from_an_admin(
        api: tuple[TestClient, dict[Role, str], Disposal], body: dict[str, str],
        admin_only: bool) -> None:
    client, keys, _ = api
    entry = {**body, "colour": "white", "reason": "bank"}
    r = call(client, keys[Role.ANALYST], "POST", "/lists", json=entry)
    if admin_only:
        assert r.status_code == 403 and "white_min_digits" in r.json()["detail"]
        # the same width in black is not a whitelist: allowed
        assert call(client, keys[Role.ANALYST], "POST", "/lists",
                    json={**entry, "colour": "black"}).status_code == 201
    else:
        assert r.status_code == 201, r.text
    assert call(client, keys[Role.ADMIN], "POST", "/lists", json=entry).status_code == 201


# --- 4. masking in the audit -------------------------------------------------------------------

@pytest.mark.parametrize(("role", "sees"), [(Role.ADMIN, True), (Role.AUDITOR, False)])
def test_audit_details_are_masked_for_roles_that_see_masked_numbers(
        api: tuple[TestClient, dict[Role, str], Disposal], role: Role, sees: bool) -> None:
    client, keys, _ = api
    h = "ab" * 32
    for body in (ENTRY, {"kind": "range", "value": "8613900000000",
                         "value_end": "8613900000099", "colour": "black", "reason": "r"},
                 {"kind": "id_hash", "value": h, "colour": "black", "reason": "r"}):
        assert call(client, keys[Role.ADMIN], "POST", "/lists", json=body).status_code == 201
    entry_id = call(client, keys[Role.ADMIN], "GET", "/lists?kind=number").json()["items"][0]["id"]
    call(client, keys[Role.ADMIN], "DELETE", f"/lists/{entry_id}?reason=done")
    r = call(client, keys[role], "GET", "/audit?limit=1000")
    assert r.status_code == 200
    text = r.text
    for secret in (N, "8613900000000", "8613900000099", h):
        assert (secret in text) is sees, (role, secret)
    if not sees:
        values = {e["detail"].get("value") for e in r.json()} - {None}
        assert "138****5678" in values and "139****0099" not in values
        assert any(v.startswith("abababab") and v.endswith("…") for v in values if v)
    assert call(client, keys[role], "GET", "/audit/verify").json()["ok"] is True


# --- 5. user names and repeated wrong keys -----------------------------------------------------

@pytest.mark.parametrize("name", ["u-admin\u200b", "u-\u200dadmin", "u-admin\u00ad",
                                  "u-adm\u202ein", "u-admin\x00"])
def test_user_names_with_invisible_characters_are_refused(
        api: tuple[TestClient, dict[Role, str], Disposal], name: str) -> None:
    client, keys, d = api
    r = call(client, keys[Role.ADMIN], "POST", "/users", json={"name": name, "role": "admin"})
    assert r.status_code == 422 and "invisible" in r.json()["detail"]
    assert len(d.users.all()) == len(Role)


def test_wrong_keys_are_logged_and_locked_out(
        api: tuple[TestClient, dict[Role, str], Disposal]) -> None:
    client, keys, _ = api
    wrong = "tsk_guess-0123456789"
    with structlog.testing.capture_logs() as logs:
        for _ in range(FAILURES):
            assert call(client, wrong, "GET", "/me").status_code == 401
    failed = [e for e in logs if e["event"] == "api.auth.failed"]
    assert len(failed) == FAILURES
    assert all(wrong not in repr(e) for e in logs)  # never the secret
    assert failed[0]["client"] == "testclient" and failed[0]["key_id"]
    r = call(client, wrong, "GET", "/me")
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= 60
    # the client is locked out, a right key included, until the window passes
    assert call(client, keys[Role.ADMIN], "GET", "/me").status_code == 429


def test_the_same_wrong_key_from_many_clients_is_locked_out(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0, key_max_failures=2))
    d = disposal(settings, clock=FixedClock(NOW))
    app = create_app(settings, disposal=d)
    statuses = []
    for i in range(4):
        with TestClient(app, client=(f"10.0.0.{i}", 5000)) as client:
            statuses.append(call(client, "tsk_stolen", "GET", "/me").status_code)
    assert statuses == [401, 401, 429, 429]
