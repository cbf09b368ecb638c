"""``telshield serve`` as an operator runs it: probes, a keyed request, metrics on their own
port, JSON access-log lines on stderr (route template, user, role; no key, no number)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

N = "8613812345678"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_probes_logs_and_exports_metrics(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELSHIELD_")}
    api, metrics = _free_port(), _free_port()
    env.update(TELSHIELD_DATA_DIR=str(tmp_path / "d"), TELSHIELD_API__METRICS_PORT=str(metrics),
               TELSHIELD_SECRET="serve-test-installation-secret-0123456789")
    cli = [sys.executable, "-m", "telshield"]
    add = subprocess.run([*cli, "users", "add", "ann", "--role", "analyst", "--init"], env=env,
                         capture_output=True, text=True, check=True)
    key = add.stdout.strip().splitlines()[-1]
    server = subprocess.Popen([*cli, "--log-level", "info", "--log-json", "serve", "--port",
                               str(api)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{api}"
        for _ in range(300):  # up to a minute on a loaded machine
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
        r = httpx.get(f"{base}/lists/check/{N}", headers={"X-API-Key": key})
        assert r.status_code == 200
        scraped = httpx.get(f"http://127.0.0.1:{metrics}/metrics").text
        assert 'route="/lists/check/{number}"' in scraped and N not in scraped
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    requests = [x for x in lines if x.get("event") == "api.request"]
    check = [x for x in requests if x["route"] == "/lists/check/{number}"]
    assert len(check) == 1 and check[0]["user"] == "ann" and check[0]["role"] == "analyst"
    assert check[0]["status"] == 200
    assert N not in err and key not in err
