"""The HTTP face, through a real HTTP client (httpx) on the ASGI app."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from telshield.screening.engine import Engine, EngineConfig
from telshield.screening.http import ScreeningApp
from telshield.screening.snapshot import BLACK, Snapshot, SnapshotInput

BLACK_N = "8613800000002"
CALLEE = "8613900000009"


def _app(token: str = "", snapshot: bool = True, fail_open: bool = True) -> ScreeningApp:
    e = Engine(EngineConfig(fail_open=fail_open))
    if snapshot:
        e.swap(Snapshot.build(SnapshotInput(
            list_numbers=np.array([int(BLACK_N)]), list_flags=np.array([BLACK], np.uint8),
            as_of=time.time(), version="http-test")))
    return ScreeningApp(e, token=token, allow_open=not token)


def _run(app: ScreeningApp, method: str, path: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


def test_single_decision() -> None:
    app = _app()
    r = _run(app, "POST", "/v1/decisions", json={"caller": BLACK_N, "callee": CALLEE,
                                                  "ingress": "radio"})
    assert r.status_code == 200
    body = r.json()
    assert body["outcome"] == "reject" and body["reasons"] == ["list:black"] and body["id"]
    r = _run(app, "POST", "/v1/decisions", json={"caller": "8618600000001", "callee": CALLEE})
    assert r.json()["outcome"] == "allow"


def test_batch_decisions_keep_order() -> None:
    callers = [BLACK_N, "8618600000001", "8613812345678", "85291234567"]
    r = _run(_app(), "POST", "/v1/decisions/batch", json={
        "caller": callers, "callee": [CALLEE] * 4,
        "ingress": ["radio", "radio", "international", "international"]})
    assert r.status_code == 200
    body = r.json()
    assert body["outcome"] == ["reject", "allow", "reject", "allow"]
    assert body["reasons"][2] == ["spoof:domestic_via_international"]
    assert len(set(body["id"])) == 4


def test_bad_requests_say_what_is_wrong() -> None:
    app = _app()
    r = _run(app, "POST", "/v1/decisions", content=b"{not json")
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    r = _run(app, "POST", "/v1/decisions", json={"caller": BLACK_N})
    assert r.status_code == 400 and "callee" in r.json()["error"]
    r = _run(app, "POST", "/v1/decisions", json={"caller": BLACK_N, "callee": CALLEE,
                                                  "ingress": "pigeon"})
    assert r.status_code == 400 and "ingress" in r.json()["error"]
    r = _run(app, "POST", "/v1/decisions/batch", json={"caller": [BLACK_N], "callee": []})
    assert r.status_code == 400 and "as many" in r.json()["error"]
    assert _run(app, "GET", "/nowhere").status_code == 404


def test_token_is_required_when_set() -> None:
    app = _app(token="s3cret")
    call = {"caller": BLACK_N, "callee": CALLEE}
    assert _run(app, "POST", "/v1/decisions", json=call).status_code == 401
    bad = {"authorization": "Bearer nope"}
    assert _run(app, "POST", "/v1/decisions", json=call, headers=bad).status_code == 401
    good = {"authorization": "Bearer s3cret"}
    assert _run(app, "POST", "/v1/decisions", json=call, headers=good).status_code == 200
    assert _run(app, "GET", "/livez").status_code == 200  # liveness stays open
    posted = _run(app, "POST", "/livez", json=call)  # the benchmark's empty POST endpoint
    assert (posted.status_code, posted.json()) == (200, {"ok": True})
    assert _run(app, "GET", "/metrics").status_code == 401


def test_readiness_metrics_and_fail_closed() -> None:
    app = _app()
    _run(app, "POST", "/v1/decisions", json={"caller": BLACK_N, "callee": CALLEE})
    assert _run(app, "GET", "/readyz").json()["snapshot"] == "http-test"
    text = _run(app, "GET", "/metrics").text
    assert 'telshield_screening_decisions_total{outcome="reject"} 1.0' in text
    assert "telshield_screening_snapshot_age_seconds" in text
    empty = _app(snapshot=False)
    assert _run(empty, "GET", "/readyz").status_code == 503
    r = _run(empty, "POST", "/v1/decisions", json={"caller": BLACK_N, "callee": CALLEE})
    assert r.json()["reasons"] == ["snapshot:missing"]
    assert "telshield_screening_fail_open_total 1.0" in _run(empty, "GET", "/metrics").text
    closed = _app(snapshot=False, fail_open=False)
    r = _run(closed, "POST", "/v1/decisions", json={"caller": BLACK_N, "callee": CALLEE})
    assert r.status_code == 503 and "snapshot" in r.json()["error"]


def test_bodies_in_chunks_and_oversized_bodies() -> None:
    import pytest

    from telshield.domain.errors import InvalidInput
    from telshield.screening import http

    def receiver(chunks: list[bytes]) -> Any:
        messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                    for i, c in enumerate(chunks)]

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        return receive

    assert asyncio.run(http._body(receiver([b'{"a":', b"1}"]))) == b'{"a":1}'
    big = b"x" * (http.MAX_BODY // 2 + 1)
    with pytest.raises(InvalidInput, match="smaller batches"):
        asyncio.run(http._body(receiver([big, big])))


def test_a_face_without_a_token_is_refused_unless_started_open(tmp_path: Path) -> None:
    import pytest

    from telshield.domain.errors import InvalidInput
    from telshield.settings import Settings
    from telshield.wiring import screening

    with pytest.raises(InvalidInput, match="no token"):
        ScreeningApp(Engine())
    assert "telshield_screening_http_open 1.0" in _run(
        ScreeningApp(Engine(), allow_open=True), "GET", "/metrics").text
    closed = _run(ScreeningApp(Engine(), token="t"), "GET", "/metrics",
                  headers={"authorization": "Bearer t"})
    assert "telshield_screening_http_open 0.0" in closed.text
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(InvalidInput, match="--allow-open"):
        screening.check_http(settings)
    s = settings.screening.model_copy(update={"http_allow_open": True})
    screening.check_http(settings.model_copy(update={"screening": s}))


def test_the_face_follows_the_publisher(tmp_path: Path) -> None:
    from pydantic import SecretStr

    from telshield.screening.publish import publish
    from telshield.settings import Settings
    from telshield.wiring import screening

    settings = Settings(data_dir=tmp_path)
    directory = screening.snapshot_dir(settings)
    publish(SnapshotInput(list_numbers=np.array([int(BLACK_N)]),
                          list_flags=np.array([BLACK], np.uint8), as_of=time.time(),
                          version="first"), directory)
    s = settings.screening.model_copy(update={"http_token": SecretStr("t")})
    app = screening.http_app(settings.model_copy(update={"screening": s}))
    auth = {"authorization": "Bearer t"}
    call = {"caller": BLACK_N, "callee": CALLEE, "ingress": "radio"}
    assert _run(app, "POST", "/v1/decisions", json=call, headers=auth).json()["outcome"] == \
        "reject"
    publish(SnapshotInput(as_of=time.time(), version="second"), directory)
    assert app._follower is not None and app._follower.check()
    assert _run(app, "GET", "/readyz", headers=auth).json()["snapshot"] == "second"
    assert _run(app, "POST", "/v1/decisions", json=call, headers=auth).json()["outcome"] == \
        "allow"
    text = _run(app, "GET", "/metrics", headers=auth).text
    assert 'telshield_screening_snapshot_info{version="second"} 1.0' in text
    assert "telshield_screening_reloads_total 2.0" in text  # the first at start, then one
    assert "telshield_screening_reload_failures_total 0.0" in text


def test_invalid_utf8_inside_a_json_string_is_a_bad_request() -> None:
    # A switch or an attacker sending bytes that are not UTF-8 inside a string: 400, not 500.
    bad = b'"86138\xff\xfe0000002"'
    for path, body in (
        ("/v1/decisions", b'{"caller": ' + bad + b', "callee": "8613900000009"}'),
        ("/v1/decisions/batch", b'{"caller": [' + bad + b'], "callee": ["8613900000009"]}'),
        ("/v1/location-updates", b'{"msisdn": [' + bad + b'], "event": ["attach"]}'),
    ):
        r = _run(_app(), "POST", path, content=body,
                 headers={"content-type": "application/json"})
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert "UTF-8" in r.json()["error"]
