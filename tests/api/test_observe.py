"""Metrics on their own port (requests by route template, method and status; latency; in
flight) and one access-log line per request with the user and role — never the key, never a
number in clear."""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from telshield.api.app import create_app
from telshield.services.store import FixedClock
from telshield.settings import ApiSettings, Settings
from telshield.wiring import disposal

N = "8613812345678"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_metrics_on_their_own_port_by_route_template(tmp_path: Path) -> None:
    port = _free_port()
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=port))
    d = disposal(settings, clock=FixedClock(datetime(2026, 3, 1, 9)))
    key = d.users.add("ann", "analyst", actor="t")[1]
    with TestClient(create_app(settings, disposal=d)) as c:
        h = {"X-API-Key": key}
        for number in (N, "8613900000001", "8613900000002"):
            assert c.get(f"/lists/check/{number}", headers=h).status_code == 200
        assert c.get("/cases?msisdn=" + N, headers=h).status_code == 200
        assert c.get("/cases").status_code == 401
        assert c.get("/no/such/route").status_code == 404
        assert c.get("/metrics").status_code == 404  # not on the API's port
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    got = _samples(text)
    check = ("telshield_api_requests_total",
             (("method", "GET"), ("route", "/lists/check/{number}"), ("status", "200")))
    assert got[check] == 3
    assert got[("telshield_api_requests_total",
                (("method", "GET"), ("route", "/cases"), ("status", "401")))] == 1
    assert got[("telshield_api_requests_total",
                (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 2
    assert got[("telshield_api_request_duration_seconds_count",
                (("method", "GET"), ("route", "/lists/check/{number}")))] == 3
    assert got[("telshield_api_requests_in_flight", ())] == 0
    assert N not in text and "8613900000001" not in text
    with pytest.raises(httpx.TransportError):  # the metrics server stops with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_busy_metrics_port_does_not_stop_the_api(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=port))
        with capture_logs() as logs, TestClient(create_app(settings, disposal=disposal(settings))
                                                ) as c:
            assert c.get("/healthz").status_code == 200
    assert any(e["event"] == "api.metrics_unavailable" and e["port"] == port for e in logs)


def test_one_access_log_line_per_request_without_key_or_number(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0))
    d = disposal(settings, clock=FixedClock(datetime(2026, 3, 1, 9)))
    key = d.users.add("dora", "disposer", actor="t")[1]
    with capture_logs() as logs, TestClient(create_app(settings, disposal=d)) as c:
        assert c.get(f"/lists/check/{N}", headers={"Authorization": f"Bearer {key}"}
                     ).status_code == 200
        assert c.get(f"/cases?msisdn={N}", headers={"X-API-Key": "tsk_wrong"}).status_code == 401
    lines = [e for e in logs if e["event"] == "api.request"]
    assert len(lines) == 2
    ok, denied = lines
    assert ok["route"] == "/lists/check/{number}" and ok["method"] == "GET"
    assert ok["status"] == 200 and ok["user"] == "dora" and ok["role"] == "disposer"
    assert ok["duration_ms"] >= 0 and ok["log_level"] == "info"
    assert denied["status"] == 401 and denied["user"] == "-" and denied["route"] == "/cases"
    flat = repr(lines)
    assert N not in flat and key not in flat and "tsk_wrong" not in flat
