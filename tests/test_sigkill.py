"""SIGKILL at random points (issue 15's bar): an ingest, a list import and a bulk disposal are
run by the real CLI in a subprocess and killed with ``kill -9`` after a seeded random delay.
Afterwards the lake and the store hold all or nothing of each, the audit chain verifies
(``telshield audit verify``), and re-running the command leaves exactly the full result (running
it once more adds nothing).

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
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
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
        q = quarantine.read(data / "quarantine").num_rows if (data / "quarantine").exists() \
            else 0
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
