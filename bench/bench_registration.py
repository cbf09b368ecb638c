"""The registration check (入网核验) over HTTP: checks per second and latency percentiles of
``POST /registrations/check`` against the API's empty endpoint (``GET /healthz``, no key, no
store) on the same server, in the same run.

    python -m bench registration [--subscribers 20000] [--seconds 20] [--rate 50]
                                 [--concurrency 8] [--work DIR]

A simulated province (``telshield world generate``) is ingested into a fresh data directory
(embedded store: SQLite, the lake); a ``sales`` user is made; ``telshield serve`` runs in its
own process. The applications sent are the province's own (its ``registrations`` feed:
id_hash, channel, staff ID, terminal, the number applied for, the e-channel order, the video
statement transcript), in time order, cycled. Two loads, each on both endpoints:

- *throughput*: ``--concurrency`` requests in flight for ``--seconds``: requests/s;
- *steady rate*: ``--rate`` requests a second, open loop (each sent on schedule, whether the
  last answered or not) for ``--seconds``: p50 / p99 / max latency. The simulator's busiest hour
  has a handful of applications a province of 20,000; ``--rate 50`` is a city's counters at
  once. The bar (issue 13): p99 ≤ 50 ms.

The client is Python (httpx) on the same two cores as the server, so the empty endpoint's figures
carry the client's cost too: read the check against them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq


def _cli(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "telshield", *args], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _applications(world: Path) -> list[dict[str, Any]]:
    rows = sorted(pq.read_table(world / "registrations").to_pylist(),
                  key=lambda r: r["applied_at"])
    orders = {o["order_id"]: o for o in pq.read_table(world / "orders").to_pylist()} \
        if (world / "orders").is_dir() else {}
    out = []
    for r in rows:
        body: dict[str, Any] = {"id_hash": r["id_hash"], "holder_kind": r["holder_kind"],
                                "channel_id": r["channel_id"], "staff_id": r["staff_id"],
                                "terminal_id": r["terminal_id"] or "",
                                "msisdn": r["requested_msisdn"]}
        if r["transcript"] is not None:
            body["transcript"] = r["transcript"]
        o = orders.get(r["order_id"] or "")
        if o is not None:
            body.update(order_id=o["order_id"], address_hash=o["address_hash"] or "",
                        contact=o["contact_msisdn"] or "", ip=o["ip"] or "",
                        device_id=o["device_id"] or "")
        out.append(body)
    return out


async def _throughput(send: Callable[[int], Awaitable[None]], seconds: float,
                      concurrency: int) -> float:
    done = 0
    end = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal done
        i = k
        while time.perf_counter() < end:
            await send(i)
            done += 1
            i += concurrency

    t = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return done / (time.perf_counter() - t)


async def _steady(send: Callable[[int], Awaitable[None]], seconds: float, rate: float
                  ) -> list[float]:
    lat: list[float] = []
    n = int(seconds * rate)
    start = time.perf_counter()

    async def one(i: int) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        t = time.perf_counter()
        await send(i)
        lat.append((time.perf_counter() - t) * 1000)

    await asyncio.gather(*(one(i) for i in range(n)))
    return lat


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(q * len(s)))], 2)


async def _run(base: str, key: str, apps: list[dict[str, Any]], args: argparse.Namespace
               ) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=max(args.concurrency, 64))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        statuses: dict[int, int] = {}

        async def empty(_: int) -> None:
            r = await client.get("/healthz")
            r.raise_for_status()

        async def check(i: int) -> None:
            r = await client.post("/registrations/check", json=apps[i % len(apps)],
                                  headers={"X-API-Key": key})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code != 200:
                raise RuntimeError(f"check answered {r.status_code}: {r.text[:200]}")

        for _ in range(20):  # warm both paths (the registry is built on the first check)
            await empty(0)
            await check(0)
        out: dict[str, Any] = {}
        for name, send in (("empty", empty), ("check", check)):
            out[f"{name}_req_s"] = round(await _throughput(send, args.seconds,
                                                           args.concurrency), 1)
            lat = await _steady(send, args.seconds, args.rate)
            out[f"{name}_p50_ms"] = _pct(lat, 0.50)
            out[f"{name}_p99_ms"] = _pct(lat, 0.99)
            out[f"{name}_max_ms"] = round(max(lat), 2)
            out[f"{name}_mean_ms"] = round(statistics.fmean(lat), 2)
        out["check_vs_empty_req_s"] = round(out["check_req_s"] / out["empty_req_s"], 3)
        out["check_statuses"] = statuses
        return out


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench registration")
    p.add_argument("--subscribers", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--work", type=Path, default=None)
    args = p.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-registration-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELSHIELD_")}
    env.update(TELSHIELD_DATA_DIR=str(work / "data"),
               TELSHIELD_SECRET="bench-registration-secret-0123456789",
               TELSHIELD_API__METRICS_PORT="0", TELSHIELD_LOG_LEVEL="warning")
    world = work / "world"
    t = time.perf_counter()
    if not (world / "registrations").is_dir():
        _cli("world", "generate", "--out", str(world), "--seed", str(args.seed),
             "--subscribers", str(args.subscribers), env=env)
    _cli("ingest", "all", str(world), "--init", env=env)
    key = _cli("users", "add", f"sales-{os.getpid()}", "--role", "sales", env=env
               ).strip().splitlines()[-1]
    apps = _applications(world)
    prepared = time.perf_counter() - t
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "telshield", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        result = asyncio.run(_run(base, key, apps, args))
    finally:
        server.terminate()
        server.wait(timeout=30)
    result.update(subscribers=args.subscribers, applications=len(apps),
                  prepare_s=round(prepared, 1), rate=args.rate, seconds=args.seconds,
                  concurrency=args.concurrency, load_1min=round(os.getloadavg()[0], 1))
    print(json.dumps(result, indent=2))
