"""The wrong-key lock-out's window, on a clock the test moves; and the same count kept in the
store, shared by two API workers (two apps with their own engines on one store) for wrong API
keys and failed web logins, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from tests.conftest import Target

from telshield.api.app import create_app
from telshield.api.lockout import Lockout
from telshield.services.store import FixedClock
from telshield.settings import ApiSettings, Settings
from telshield.store.lockout import SqlLockout
from telshield.store.sql import SqlStore, open_store
from telshield.wiring import disposal
from telshield.wiring.datadir import init_data_dir

FAILURES = 3
NOW = datetime(2026, 3, 1, 9)
ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_locked_after_n_failures_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    lock = Lockout(3, 60.0, clock)
    for dt in (0, 10, 20):
        clock.t = 1000.0 + dt
        assert lock.retry_after(["client:a"]) == 0
        lock.failed(["client:a"])
    assert lock.retry_after(["client:a"]) == 40  # the failure at 1000 leaves at 1060
    assert lock.retry_after(["client:b"]) == 0  # another address is not affected
    assert lock.retry_after(["client:b", "client:a"]) == 40  # any locked subject locks
    clock.t = 1060.0
    assert lock.retry_after(["client:a"]) == 0  # two failures left in the window
    lock.failed(["client:a"])
    assert lock.retry_after(["client:a"]) == 10  # 1010 + 60 - 1060


def test_failures_outside_the_window_are_forgotten() -> None:
    clock = Clock()
    lock = Lockout(2, 60.0, clock)
    lock.failed(["key:x"])
    clock.t += 61
    lock.failed(["key:x"])
    assert lock.retry_after(["key:x"]) == 0


# --- shared by every worker: the count lives in the store --------------------------------------

def test_the_store_keeps_the_same_window(store: SqlStore) -> None:
    clock = Clock()
    lock = SqlLockout(store.engine, 3, 60.0, clock)
    for dt in (0, 10, 20):
        clock.t = 1000.0 + dt
        assert lock.retry_after(["client:a"]) == 0
        lock.failed(["client:a"])
    assert lock.retry_after(["client:a"]) == 40
    assert lock.retry_after(["client:b"]) == 0
    assert lock.retry_after(["client:b", "client:a"]) == 40
    clock.t = 1060.0
    assert lock.retry_after(["client:a"]) == 0
    lock.failed(["client:a"])
    assert lock.retry_after(["client:a"]) == 10
    clock.t = 2000.0
    lock.failed(["key:x"])  # and what left the window is deleted, not kept forever
    with store.engine.connect() as c:
        assert c.exec_driver_sql("SELECT subject FROM auth_failures").scalars().all() == ["key:x"]


def test_two_workers_on_one_store_share_the_limit(db: Target, tmp_path: Path) -> None:
    """Two API apps, each with its own engine on the same store, as two `serve` workers (or two
    hosts) are: failures at one count at the other. Each counting alone, both would still take
    the right key after FAILURES - 1 + 1 wrong ones."""
    settings = Settings(data_dir=tmp_path, api=ApiSettings(
        metrics_port=0, key_max_failures=FAILURES, key_window_s=60))
    stores = [open_store(db.url, schema=db.schema) for _ in range(2)]
    try:
        one, two = (disposal(settings, store=s, clock=FixedClock(NOW)) for s in stores)
        _, key = one.users.add("ann", "admin", actor="test")
        with TestClient(create_app(settings, disposal=one)) as a, \
                TestClient(create_app(settings, disposal=two)) as b:
            assert _me(a, key) == _me(b, key) == 200
            for _ in range(FAILURES - 1):
                assert _me(a, "tsk_guess-1") == 401
            assert _me(b, "tsk_guess-2") == 401
            assert _me(b, key) == 429  # this client is locked out at both workers
            assert _me(a, key) == 429
        with TestClient(create_app(settings, disposal=two), client=("10.0.0.9", 5000)) as c:
            assert _me(c, key) == 200  # another address is not
    finally:
        for s in stores:
            s.dispose()


def test_failed_web_logins_count_at_every_worker(db: Target, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(
        metrics_port=0, key_max_failures=FAILURES, key_window_s=60))
    stores = [open_store(db.url, schema=db.schema) for _ in range(2)]
    try:
        one, two = (disposal(settings, store=s, clock=FixedClock(NOW)) for s in stores)
        _, key = one.users.add("ann", "admin", actor="test")
        with TestClient(create_app(settings, disposal=one)) as a, \
                TestClient(create_app(settings, disposal=two)) as b:
            for _ in range(FAILURES):
                assert _login(a, "ann", "tsk_guess") != 303
            assert _login(b, "ann", key) == 429  # the other worker refuses the right key too
    finally:
        for s in stores:
            s.dispose()


def _me(client: TestClient, key: str) -> int:
    return client.get("/me", headers={"X-API-Key": key}).status_code


def _login(client: TestClient, name: str, key: str) -> int:
    page = client.get("/web/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    r = client.post("/web/login", data={"csrf": token.group(1), "name": name, "key": key},
                    follow_redirects=False)
    return r.status_code


def test_two_server_processes_on_one_data_dir_share_the_limit(tmp_path: Path) -> None:
    """Two real API processes (the ASGI factory under uvicorn, as `serve` runs it), on two
    ports over one data directory's store: wrong keys at one lock the client out at both."""
    settings = Settings(data_dir=tmp_path)
    init_data_dir(settings)
    d = disposal(settings)
    _, key = d.users.add("ann", "admin", actor="test")
    d.store.dispose()
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(tmp_path), "TELSHIELD_API__METRICS_PORT": "0",
           "TELSHIELD_API__KEY_MAX_FAILURES": str(FAILURES),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT),
                                          os.environ.get("PYTHONPATH", "")])}
    ports = [_free_port(), _free_port()]
    procs = [subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory",
                               "telshield.api.app:from_environment", "--host", "127.0.0.1",
                               "--port", str(p), "--log-level", "warning"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for p in ports]
    try:
        a, b = (f"http://127.0.0.1:{p}" for p in ports)
        for url in (a, b):
            _wait_up(url)
        assert _get(a, key) == _get(b, key) == 200
        for _ in range(FAILURES - 1):
            assert _get(a, "tsk_guess-1") == 401
        assert _get(b, "tsk_guess-2") == 401
        assert _get(a, key) == 429
        assert _get(b, key) == 429
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not start")


def _get(url: str, key: str) -> int:
    return httpx.get(url + "/me", headers={"X-API-Key": key}, timeout=30).status_code
