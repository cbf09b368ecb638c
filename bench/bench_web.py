"""The web pages' latency on a store of provincial size, against an empty endpoint measured in
the same run.

    .venv/bin/python -m bench web --numbers 180000 --requests 40

A fresh SQLite store holds ``--numbers`` black list entries, open alerts on as many numbers and
a bulk suspension of them (cases, actions, hash-chained audit events: a month of Jiangsu's
disposals at 180,000). Each page is then fetched ``--requests`` times in-process (Starlette's
TestClient, logged in as an admin: the full app, session and middleware included, its start-up
heap frozen as the server's factory does, ``api.app.settle``) and its p50 and p95 printed,
beside the same for ``/healthz`` (no store work) as the baseline. The issue's bar: p95 <= 300
ms for every page. A checkpoint of the audit chain is written at the head once the store is
built (as each tick of ``telshield run`` does) and 200 events follow it:
``/web/audit/verify`` checks from that checkpoint and is timed like the pages;
``/web/audit/verify?full=1`` re-hashes the whole chain and is timed once, apart.

The overview's calls by route class come from the screening decision log: ``--decisions``
records are written into it, over the CST month up to the bench's clock (a tenth of them a year
earlier, for the year-on-year columns), a third of them by alerted numbers.
The overview's first view (calls read and classified; then kept a minute) is timed once, apart:
the log is rotated every ``--log-mb`` MiB, so the first view counts each closed file once and
writes its summary beside it (``wiring.figures``); then a second app over the same data (a
restart) is started and its first view, which reads the summaries and the open file only, is
timed too.
``--only PATH ...`` times only those pages (and ``/healthz``).

``--figures-only`` builds no store and serves no page: it times the overview's three periods'
route figures (``services.figures``) over the same decision log and an empty store, read
``--repeat`` times in turn four ways: every file read as calls (the source before the
summaries), the closed files counted anew (no summary yet: written, then removed again),
from the summaries (a first view after a restart), and the next read from the same source (its
open file's lines read before are kept: only lines appended since are parsed); medians.

``--database-url postgresql+psycopg://USER@HOST:PORT/DB`` builds the store in a fresh schema
``bench_web`` of that database (dropped first, and at the end) instead of a SQLite file; the
list entries are then loaded through the store (one list version, 10,000 rows an insert).

``--data-dir DIR [--config FILE] [--at TIME]`` builds nothing: it times the pages over an
existing data directory (a province's own store, its lake and decision log, with its settings
from ``--config`` and the environment, as ``telshield serve`` reads them), on a clock fixed at
``--at`` (default: now) so that the overview's day and month are the data's. A user
``bench-web-<time>`` (admin) is added for the run and disabled at its end (both audited, as any
user change); the case page timed is the store's middle case, the trace that of the newest
alert's number, or of ``--number N`` (a number of the lake, say a den's SIM).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

T0 = datetime(2026, 3, 1, 9)


def write_decisions(folder: Path, k: int, numbers: list[str], log_mb: float = 256) -> None:
    """``k`` decision records in the decision log under ``folder``: the CST month up to T0
    and, a tenth, the same span a year before."""
    import random

    from telshield.domain.clock import store_epoch
    from telshield.screening.decisionlog import DecisionRecord, JsonLinesDecisionLog

    rng = random.Random(5)
    log = JsonLinesDecisionLog(folder, node="b1-", max_bytes=int(log_mb * 2**20))
    start = store_epoch(datetime(2026, 2, 28, 16))
    span = store_epoch(T0) - start
    year = store_epoch(datetime(2026, 2, 28, 16)) - store_epoch(datetime(2025, 2, 28, 16))
    ingress = ["radio", "radio", "interconnect", "international"]
    outcome = ["allow"] * 7 + ["label", "warn_callee", "reject"]
    for i in range(k):
        at = start + rng.random() * span - (year if i % 10 == 0 else 0)
        caller = numbers[i % len(numbers)] if i % 3 == 0 else f"86134{rng.randrange(10**8):08d}"
        log.append(DecisionRecord(f"b1-{i:x}", at, caller, f"86135{rng.randrange(10**8):08d}",
                                  ingress[i % 4], outcome[rng.randrange(10)], (), "v"))
    log.close()


PG_SCHEMA = "bench_web"


def pg_schema(url: str, *, drop_only: bool = False) -> None:
    """Drop the bench's schema in the database at ``url`` (and create it anew)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as con:
        con.execute(sa.text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        if not drop_only:
            con.execute(sa.text(f"CREATE SCHEMA {PG_SCHEMA}"))
    engine.dispose()


def seed_store_lists(store: Any, n: int) -> None:
    """``n`` number entries as ``seed_lists`` loads them, through the store (any backend)."""
    from bench.bench_disposal import _numbers
    from telshield.domain.lists import ListEntry

    numbers = _numbers(n, seed=11)
    with store.transaction() as tx:
        version = tx.lists.new_version(actor="bench", note="seed", at=T0)
    for i in range(0, n, 10_000):
        with store.transaction() as tx:
            tx.lists.add([ListEntry.new(
                "number", m, "white" if j % 100 == 0 else "black",
                source="police" if j % 200 == 1 else "detection", reason="seed",
                actor="bench", at=T0, police_ordered=j % 200 == 1)
                for j, m in enumerate(numbers[i:i + 10_000], start=i)], version)


def build(work: Path, n: int, decisions: int = 0, log_mb: float = 256,
          database_url: str = "") -> Any:
    """The app over a store with ``n`` list entries, alerts and suspended cases, and how to
    start another over the same data (a restart)."""
    from pydantic import SecretStr

    from bench.bench_disposal import _numbers, seed_lists
    from telshield.api.app import create_app, settle
    from telshield.domain.alerts import Alert, Reason, Tier
    from telshield.domain.audit import AuditEvent
    from telshield.domain.cases import ActionKind, Policy
    from telshield.domain.registrations import CheckRequest, Decision
    from telshield.domain.registrations import Reason as RegReason
    from telshield.services.audit import write_checkpoint
    from telshield.services.cases import CaseService
    from telshield.services.store import FixedClock
    from telshield.settings import ApiSettings, Settings
    from telshield.store.sql import open_store
    from telshield.wiring import disposal
    from telshield.wiring.security import checkpoint_path

    settings = Settings(data_dir=work, api=ApiSettings(metrics_port=0),
                        secret=SecretStr("bench-secret-0123456789abcdef"))
    if database_url:
        pg_schema(database_url)
        store = open_store(database_url, schema=PG_SCHEMA)
        seed_store_lists(store, n)
    else:
        db = work / "telshield.db"
        seed_lists(db, n)
        store = open_store(f"sqlite:///{db.as_posix()}")
    numbers = _numbers(n, seed=3)
    reasons = (Reason("rule:many_strangers", "calls many strangers", "distinct_callees", 40.0),)
    tiers = [Tier.WATCH, Tier.VERIFY, Tier.SUSPEND]
    for i in range(0, n, 20_000):
        part = numbers[i:i + 20_000]
        with store.transaction() as tx:
            tx.alerts.upsert([Alert(m, 0.5, tiers[j % 3], reasons,
                                    T0 - timedelta(hours=j % 700), T0)
                              for j, m in enumerate(part, start=i)])
    clock = FixedClock(T0)
    CaseService(store, clock, Policy()).bulk(numbers, ActionKind.SUSPEND, actor="bench",
                                             reason="GOIP den", group_ref="den:1")
    checks = min(n, 50_000)  # registration checks, for the registrations page
    outcome = [Decision.ALLOW, Decision.ALLOW, Decision.VERIFY, Decision.REFUSE]
    why = (RegReason("ID_LIMIT", "too many cards under the ID", Decision.REFUSE),)
    for i in range(0, checks, 10_000):
        with store.transaction() as tx:
            for j in range(i, min(checks, i + 10_000)):
                req = CheckRequest.new(id_hash=f"{j:064x}", holder_kind="individual",
                                       channel_id=f"CH-{j % 40}", staff_id=f"ST-{j % 900}",
                                       terminal_id=f"T-{j % 300}", msisdn=numbers[j % n])
                got = outcome[j % 4]
                tx.registrations.add(req, got, why if got is Decision.REFUSE else (),
                                     actor="sales", at=T0 - timedelta(minutes=j))
    d = disposal(settings, store=store, clock=clock)
    key = d.users.add("bench", "admin", actor="bench")[1]
    write_checkpoint(d.audit, checkpoint_path(settings), T0)
    if decisions:
        from telshield.reference.numbering import load_plan_table
        from telshield.wiring.screening import log_dir

        load_plan_table(work)  # built and cached on disk, as `telshield init` does

        write_decisions(log_dir(settings), decisions, numbers, log_mb)
    with store.transaction() as tx:  # what happens between two ticks' checkpoints
        tx.audit.append([AuditEvent("bench", "case.note", f"case:{i}", T0, {"i": i})
                         for i in range(200)])
    app = create_app(settings, disposal=d)
    settle()  # as the server's factory does once it has started
    return (app, key, numbers, checks,
            lambda: create_app(settings, disposal=disposal(settings, store=store, clock=clock)))


def login(c: Any, key: str, name: str = "bench") -> Any:
    """The test client ``c`` logged in as the bench's admin."""
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/web/login").text)
    assert token is not None
    c.post("/web/login", data={"csrf": token.group(1), "name": name, "key": key},
           follow_redirects=False)
    return c


def existing(data_dir: Path, config: Path | None, at: datetime | None) -> Any:
    """The app over an existing data directory, the bench user's name and key, the paths'
    middle case id and alerted number, how to start another app (a restart) and how to
    disable the bench user at the end."""
    from telshield.api.app import create_app, settle
    from telshield.cli.common import existing_data
    from telshield.domain.paging import Page
    from telshield.services.store import Clock, FixedClock, SystemClock
    from telshield.wiring import disposal

    settings = existing_data(config, data_dir)
    clock: Clock = FixedClock(at) if at is not None else SystemClock()
    d = disposal(settings, clock=clock)
    name = f"bench-web-{int(time.time())}"
    key = d.users.add(name, "admin", actor="bench")[1]
    with d.store.transaction(write=False) as tx:
        cases = tx.cases.find(page=Page(limit=1))
        alerts = tx.alerts.find(page=Page(limit=1))
    mid = (cases[0].id or 0) // 2 + 1 if cases else 0
    number = alerts[0].alert.msisdn if alerts else "8613800000000"
    app = create_app(settings, disposal=d)
    settle()  # as the server's factory does once it has started
    return (app, name, key, mid, number,
            lambda: create_app(settings, disposal=disposal(settings, clock=clock)),
            lambda: d.users.disable(name, actor="bench"))


def timed(client: Any, path: str, k: int) -> list[float]:
    """``k`` wall times (ms) of GET ``path``, after one warm-up."""
    assert client.get(path).status_code == 200, path
    out = []
    for _ in range(k):
        t = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, path
    return out


def figures_only(work: Path, decisions: int, log_mb: float, repeat: int) -> None:
    """Time the overview's route figures three ways (the module doc), medians of ``repeat``."""
    import ibis

    from bench.bench_disposal import _numbers
    from telshield.reference.numbering import load_plan_table
    from telshield.services.figures import Figures
    from telshield.services.overview import day_start, month_start, year_back
    from telshield.services.store import FixedClock
    from telshield.store.sql import open_store
    from telshield.wiring.figures import SUMMARY_SUFFIX, decision_calls, decision_split

    store = open_store(f"sqlite:///{(work / 'figures.db').as_posix()}")
    plan = load_plan_table(work)
    folder = work / "decisions"
    write_decisions(folder, decisions, _numbers(50_000, seed=3), log_mb)
    until = T0 + timedelta(microseconds=1)
    spans = [(day_start(T0), until), (month_start(T0), until),
             (year_back(month_start(T0)), year_back(until))]
    clock = FixedClock(T0)
    ways: dict[str, list[float]] = {"calls": [], "counted anew": [], "summaries": [],
                                    "next read": []}
    screened = set()
    for _ in range(repeat):
        for way in ways:
            if way == "counted anew":
                for summary in folder.glob(f"*{SUMMARY_SUFFIX}"):
                    summary.unlink()
            if way != "next read":  # the next read: the same source, its open file read
                f = Figures(store, clock, plan=lambda: ibis.memtable(plan),
                            **({"calls": decision_calls(folder)} if way == "calls" else
                               {"split": decision_split(folder)}))
            t = time.perf_counter()
            got = f.periods(spans)
            ways[way].append((time.perf_counter() - t) * 1000)
            screened.add(tuple(p.screened for p in got))
    assert len(screened) == 1, screened  # the three ways count the same calls
    files = len(list(folder.glob("decisions-*.jsonl")))
    print(json.dumps({"decisions": decisions, "files": files, "screened": screened.pop(),
                      **{f"{k}_ms": round(statistics.median(v), 1) for k, v in ways.items()}}))


def main(argv: list[str]) -> None:
    """Build the store, time each page, print one JSON line per page."""
    p = argparse.ArgumentParser(prog="python -m bench web")
    p.add_argument("--numbers", type=int, default=180_000)
    p.add_argument("--requests", type=int, default=40)
    p.add_argument("--decisions", type=int, default=100_000)
    p.add_argument("--log-mb", type=float, default=2.0)
    p.add_argument("--database-url", default="",
                   help="a PostgreSQL database to build the store in (schema bench_web)")
    p.add_argument("--only", nargs="*", default=[])
    p.add_argument("--figures-only", action="store_true")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="time the pages over this existing data directory instead")
    p.add_argument("--config", type=Path, default=None,
                   help="with --data-dir: its settings file")
    p.add_argument("--at", type=datetime.fromisoformat, default=None,
                   help="with --data-dir: the clock (store time, UTC), e.g. 2026-11-10T06:00")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--number", default="",
                   help="with --data-dir: the number traced (default: the newest alert's)")
    a = p.parse_args(argv)
    if a.data_dir is not None:
        app, name, key, mid, number, restart, done = existing(a.data_dir, a.config, a.at)
        number = a.number or number
        print(json.dumps({"data_dir": "given", "case": mid, "number": number[:5] + "…",
                          "at": a.at.isoformat() if a.at else "now"}))
        try:
            run(app, key, [number], 2, restart, a, mid=mid, name=name)
        finally:
            done()
        return
    if a.figures_only:
        with tempfile.TemporaryDirectory() as tmp:
            figures_only(Path(tmp), a.decisions, a.log_mb, a.repeat)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        app, key, numbers, checks, restart = build(Path(tmp), a.numbers, a.decisions,
                                                   a.log_mb, a.database_url)
        print(json.dumps({"built_s": round(time.perf_counter() - t, 1), "numbers": a.numbers,
                          "decisions": a.decisions,
                          "store": "postgresql" if a.database_url else "sqlite"}))
        try:
            run(app, key, numbers, checks, restart, a)
        finally:
            if a.database_url:
                pg_schema(a.database_url, drop_only=True)


def run(app: Any, key: str, numbers: list[str], checks: int, restart: Any,
        a: argparse.Namespace, *, mid: int | None = None, name: str = "bench") -> None:
    """Time the pages (``main``'s doc); ``mid``: the case (and audit, alert) id the paths
    name (default: half ``--numbers``), ``name``: the user to log in as."""
    from fastapi.testclient import TestClient

    c = login(TestClient(app), key, name)
    mid = a.numbers // 2 if mid is None else mid
    pages = ["/healthz", "/web/", "/web/alerts", "/web/alerts?tier=suspend&open_only=1",
             f"/web/alerts?before={mid}", "/web/cases", "/web/cases?status=suspended",
             f"/web/cases/{mid}", "/web/lists", "/web/lists?colour=black&kind=number",
             "/web/lists?from_version=0&to_version=1", "/web/audit",
             f"/web/audit?after={mid}", f"/web/audit?subject=case:{mid}",
             "/web/audit/verify", "/web/trace", f"/web/trace/{numbers[0]}",
             f"/web/trace/{numbers[0]}/links", "/web/rules", "/web/registrations",
             "/web/registrations?decision=refuse", f"/web/registrations?before={checks // 2}",
             "/web/registrations?staff=ST-7", "/web/registrations?by=channel", "/web/map",
             "/web/map/counties.json"]
    if mid <= 0:  # a store without cases: no case page to time
        pages = [x for x in pages if not x.startswith("/web/cases/")]
    if a.only:
        pages = [x for x in pages if x == "/healthz" or x in a.only]
    if "/web/" in pages:  # the overview's first view reads and classifies the calls
        t = time.perf_counter()
        assert c.get("/web/").status_code == 200
        print(json.dumps({"page": "/web/ (first view: every closed file counted)",
                          "once_ms": round((time.perf_counter() - t) * 1000, 1)}))
        again = login(TestClient(restart()), key, name)
        t = time.perf_counter()
        assert again.get("/web/").status_code == 200
        print(json.dumps({"page": "/web/ (first view after a restart: summaries read)",
                          "once_ms": round((time.perf_counter() - t) * 1000, 1)}))
    base = 0.0
    for path in pages:
        ms = sorted(timed(c, path, a.requests))
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        if path == "/healthz":
            base = p95
        print(json.dumps({"page": path, "p50_ms": round(statistics.median(ms), 1),
                          "p95_ms": round(p95, 1), "p95_vs_healthz": round(p95 / base, 1),
                          "within_300ms": p95 <= 300}))
    if a.only and "/web/audit/verify?full=1" not in a.only:
        return
    t = time.perf_counter()
    assert c.get("/web/audit/verify?full=1").status_code == 200
    print(json.dumps({"page": "/web/audit/verify?full=1", "once_ms":
                      round((time.perf_counter() - t) * 1000, 1)}))
