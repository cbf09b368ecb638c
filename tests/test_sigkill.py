"""SIGKILL at random points (issue 15's bar): an ingest, a list import, a bulk disposal and the
approval of a police control request (block, or suspend, every number of an ID; on SQLite and
PostgreSQL) are run by the real CLI in a subprocess and killed with ``kill -9`` after a seeded
random delay. Afterwards the lake and the store hold all or nothing of each, the audit chain
verifies (``telshield audit verify``), and re-running the command leaves exactly the full result
(running it once more adds nothing; an approval already answered is refused, changing nothing).

``make test`` kills each command at a few points; ``python -m bench sigkill`` at many more
(``SIGKILL_POINTS``, ``SIGKILL_SEED``)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from tests.feeds.csvs import write_csv
from tests.feeds.test_ingest_direct import call

from telshield.feeds import quarantine
from telshield.feeds.lake import Lake
from telshield.reference.schemas import CALLS, SUBSCRIBERS

KILLS = int(os.environ.get("SIGKILL_POINTS", "2"))
SEED = int(os.environ.get("SIGKILL_SEED", "15"))
ROOT = Path(__file__).resolve().parents[1]


def _cli(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(_cmd(data, *args), capture_output=True, text=True, env=_env(),
                       check=False, timeout=600)
    assert not check or r.returncode == 0, f"{args}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def _cmd(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "telshield", *args, "--data-dir", str(data)]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT),
                                         env.get("PYTHONPATH", "")])
    return env


def _kill_after(cmd: list[str], delay: float) -> bool:
    """Run ``cmd``, kill -9 it after ``delay`` s; whether it had finished by then."""
    p = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        p.wait(delay)
        return True
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return False


def _timed(data: Path, *args: str) -> float:
    t0 = time.perf_counter()
    _cli(data, *args)
    return time.perf_counter() - t0


def _delays(total: float, start: float) -> list[float]:
    """KILLS seeded points spread over the run after the interpreter has started."""
    rng = random.Random(SEED)
    span = max(total - start, 0.2)
    return [start + span * (k + rng.random()) / KILLS for k in range(KILLS)]


def _startup() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import telshield.cli"], env=_env(), check=True)
    return time.perf_counter() - t0


def _audit_verifies(data: Path) -> None:
    r = _cli(data, "audit", "verify", check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def _crash_and_rerun(tmp: Path, name: str, args: list[str], prepare: Callable[[Path], None],
                     count: Callable[[Path], int], full: int) -> list[tuple[float, bool, int]]:
    """The timed clean run, then one crash per delay on a fresh data dir: all or nothing
    after the kill, the audit verifies, a re-run completes it and one more adds nothing."""
    clean = tmp / f"{name}-clean"
    prepare(clean)
    total = _timed(clean, *args)
    assert count(clean) == full
    seen = []
    for k, delay in enumerate(_delays(total, _startup())):
        data = tmp / f"{name}-{k}"
        prepare(data)
        finished = _kill_after(_cmd(data, *args), delay)
        after = count(data)
        seen.append((round(delay, 2), finished, after))
        assert after in (0, full), f"{name}: {after} of {full} after a kill at {delay:.2f} s"
        _audit_verifies(data)
        _cli(data, *args)
        assert count(data) == full, name
        _cli(data, *args)
        assert count(data) == full, name
        _audit_verifies(data)
    return seen


def _init(data: Path) -> None:
    _cli(data, "init")


# -- ingest ----------------------------------------------------------------------------------

def _lake_rows(data: Path) -> int:
    return sum(pq.read_metadata(f).num_rows for f in Lake(data / "lake").files(CALLS))


def test_a_killed_ingest_leaves_all_or_nothing(tmp_path: Path) -> None:
    rows = [call(i, day=1 + i % 20) for i in range(20_000)]
    rows[7] = call(7, duration_s="5.5")  # one bad row: quarantined once, however often re-run
    src = write_csv(tmp_path / "calls.csv", rows)

    def count(data: Path) -> int:
        committed = Lake(data / "lake").committed()
        q = quarantine.read(data / "quarantine", committed=committed).num_rows \
            if (data / "quarantine").exists() else 0
        rows_ = _lake_rows(data)
        assert (rows_, q) in ((0, 0), (len(rows) - 1, 1)), (rows_, q)
        return rows_

    seen = _crash_and_rerun(tmp_path, "ingest", ["ingest", "calls", str(src)], _init, count,
                            len(rows) - 1)
    print("ingest kills (delay s, finished, rows after):", seen)


# -- list import -----------------------------------------------------------------------------

def _store_count(data: Path, sql: str) -> int:
    con = sqlite3.connect(data / "telshield.db")
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


def test_a_killed_list_import_leaves_all_or_nothing(tmp_path: Path) -> None:
    n = 5_000
    src = tmp_path / "lists.csv"
    src.write_text("kind,value,value_end,colour,source,reason,expires_at,police_order\n" + "".join(
        f"number,86138{i:08d},,black,manual,fuzz,,\n" for i in range(n)))

    def count(data: Path) -> int:
        return _store_count(data, "SELECT count(*) FROM list_entries")

    seen = _crash_and_rerun(tmp_path, "lists", ["lists", "import", str(src), "--actor", "ann"],
                            _init, count, n)
    print("list import kills (delay s, finished, entries after):", seen)


# -- bulk disposal ---------------------------------------------------------------------------

def test_a_killed_bulk_disposal_leaves_all_or_nothing(tmp_path: Path) -> None:
    n = 2_000
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("".join(f"86139{i:08d}\n" for i in range(n)))

    ours = [f"86139{i:08d}" for i in range(n)]
    subscribers = write_csv(tmp_path / "subscribers.csv",
                            [{**SUBSCRIBERS.example, "msisdn": m} for m in ours],
                            SUBSCRIBERS.column_names)

    def prepare(data: Path) -> None:
        _cli(data, "ingest", "subscribers", str(subscribers), "--init")

    def count(data: Path) -> int:
        return _store_count(data, "SELECT count(*) FROM actions")

    args = ["cases", "bulk", "suspend", "--numbers", str(numbers), "--reason", "den 7",
            "--actor", "ann"]
    seen = _crash_and_rerun(tmp_path, "bulk", args, prepare, count, n)
    print("bulk disposal kills (delay s, finished, actions after):", seen)


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


# -- police control approval -----------------------------------------------------------------
# The checker's approval of a control request (block, or suspend, every number of an ID) runs
# as `telshield police approve` and is killed; the request was filed and prepared before, in
# this process. On SQLite and on PostgreSQL (a fresh database per data directory, reached by the
# CLI through TELSHIELD_STORE__URL). A re-run after the kill completes an unfinished approval;
# one more (or one after a kill that came after the commit) is refused as already answered
# (exit 4) and changes nothing.

ID_HASH = "7c" * 32
POLICE_NUMBERS = 1_500


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Makes a fresh store URL per call ("" = SQLite in the data directory); drops them after."""
    if request.param == "sqlite":
        yield lambda: ""
        return
    from tests.conftest import PG_URL

    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def fresh() -> str:
        name = "sk_" + uuid.uuid4().hex[:12]
        with admin.connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE {name}")
        made.append(name)
        return PG_URL.rsplit("/", 1)[0] + "/" + name

    yield fresh
    with admin.connect() as c:
        for name in made:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def _settings(data: Path) -> Any:
    from telshield.settings import Settings

    url = (data / "store-url").read_text() if (data / "store-url").exists() else ""
    return Settings(data_dir=data, store={"url": url})


def _police_env(data: Path) -> dict[str, str]:
    url = _settings(data).store.url
    return {**_env(), **({"TELSHIELD_STORE__URL": url} if url else {})}


def _file_control(data: Path, url: str, action: str, subscribers: Path) -> None:
    """A data directory whose store holds a prepared control request (id 1) on ID_HASH."""
    from telshield.domain.users import Role, User
    from telshield.services.ingest import ingest
    from telshield.wiring import open_store
    from telshield.wiring.datadir import init_data_dir
    from telshield.wiring.ingest import ingest_options
    from telshield.wiring.police import police

    data.mkdir(parents=True)
    if url:
        (data / "store-url").write_text(url)
    settings = _settings(data)
    init_data_dir(settings)
    ingest("subscribers", [subscribers], ingest_options(settings))
    store = open_store(settings)
    try:
        svc = police(settings, store)
        svc.add_unit("NJ-FZ", "Nanjing anti-fraud centre", actor="root")
        cop = User("cop", Role.POLICE, "h" * 64, datetime(2026, 3, 1), "NJ-FZ")
        q = svc.submit(cop, kind="control", target_kind="id", target=ID_HASH, action=action,
                       legal_doc="冻结通知书 NJ-2026-17", case_ref="NJ-2026-03-0042",
                       reason="cards of a fraud ring")
        svc.prepare(int(q.id or 0), actor="ann", note="legal document checked")
    finally:
        store.dispose()


def _police_state(data: Path) -> dict[str, Any]:
    """What an approval writes: the request's status, its sealed response (and whether it
    still matches its hash), list entries, cases, actions, BSS commands, audit events by
    action; and whether the audit chain verifies."""
    from telshield.services.audit import AuditService
    from telshield.wiring import open_store
    from telshield.wiring.police import police
    from telshield.wiring.security import audit_keys

    settings = _settings(data)
    store = open_store(settings)
    try:
        e = store.engine
        with e.connect() as c:
            def n(sql: str) -> int:
                return int(c.exec_driver_sql(sql).scalar_one())

            state: dict[str, Any] = {
                "status": c.exec_driver_sql(
                    "SELECT status FROM police_requests WHERE id = 1").scalar_one(),
                "responses": n("SELECT count(*) FROM police_responses"),
                "list_entries": n("SELECT count(*) FROM list_entries"),
                "cases": n("SELECT count(*) FROM cases"),
                "actions": n("SELECT count(*) FROM actions"),
                "outbox": n("SELECT count(*) FROM outbox"),
                "audit": dict(c.exec_driver_sql(
                    "SELECT action, count(*) FROM audit_events GROUP BY action").all()),
            }
        if state["responses"]:
            state["sealed"] = police(settings, store).verify(1)[0]
        report = AuditService(store, audit_keys(settings)).verify()
        assert report.ok, report
    finally:
        store.dispose()
    return state


@pytest.mark.parametrize("action", ["block", "suspend"])
def test_a_killed_police_control_approval_leaves_all_or_nothing(
        tmp_path: Path, action: str, backend: Callable[[], str]) -> None:
    subscribers = write_csv(
        tmp_path / "subscribers.csv",
        [{**SUBSCRIBERS.example, "msisdn": f"86137{i:08d}", "id_hash": ID_HASH}
         for i in range(POLICE_NUMBERS)], SUBSCRIBERS.column_names)
    args = ["police", "approve", "1", "--actor", "bob", "--note", "done"]

    def run(data: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(_cmd(data, *args), capture_output=True, text=True,
                              env=_police_env(data), check=False, timeout=600)

    clean = tmp_path / "clean"
    _file_control(clean, backend(), action, subscribers)
    before = _police_state(clean)
    assert before["status"] == "prepared" and before["responses"] == 0
    t0 = time.perf_counter()
    r = run(clean)
    total = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    full = _police_state(clean)
    assert full["status"] == "answered" and full["sealed"] is True
    assert full["list_entries" if action == "block" else "actions"] == POLICE_NUMBERS
    assert full != before

    def refused_and_unchanged(data: Path) -> None:
        again = run(data)
        assert again.returncode == 4, again.stdout + again.stderr  # Conflict: already answered
        assert "answered" in again.stdout + again.stderr
        assert _police_state(data) == full

    seen = []
    for k, delay in enumerate(_delays(total, _startup())):
        data = tmp_path / f"kill-{k}"
        _file_control(data, backend(), action, subscribers)
        p = subprocess.Popen(_cmd(data, *args), env=_police_env(data),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.wait(delay)
            finished = True
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            finished = False
        after = _police_state(data)  # the audit chain verifies, whatever the kill left
        seen.append((round(delay, 2), finished, after["status"]))
        assert after in (before, full), f"{action}: after a kill at {delay:.2f} s: {after}"
        if after == before:
            r = run(data)
            assert r.returncode == 0, r.stdout + r.stderr
            assert _police_state(data) == full
        refused_and_unchanged(data)
    print(f"police {action} approval kills (delay s, finished, status after):", seen)
