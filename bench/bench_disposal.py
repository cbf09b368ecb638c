"""Disposal at provincial scale, each figure against a baseline measured in the same run.

    .venv/bin/python -m bench disposal bulk --numbers 180000
    .venv/bin/python -m bench disposal snapshot --entries 10000000

``bulk``: a month of Jiangsu's disposals (180,000 numbers) suspended by one bulk disposal on a
fresh SQLite store (cases opened, moved, actions, notices and BSS commands queued, one audit
event per case, hash-chained, one transaction). Baseline: hand-written ``sqlite3`` executemany
of the same rows into the same tables in one transaction (no domain law, no hashing). Goal: the
bulk within 60 s.

``snapshot``: 10 million list entries in the store (loaded by hand-written SQL, not timed), then
the screening snapshot built from them through ``ListService.number_columns`` and
``Snapshot.build``. Baseline: ``Snapshot.build`` over the same numbers already in a numpy array.
Each side runs in a fresh process so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from telshield.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 9)


def _numbers(n: int, seed: int = 7) -> list[str]:
    rng = np.random.default_rng(seed)
    segs = np.array([138, 139, 150, 186, 130, 133, 153, 180, 189, 177, 166, 198])
    heads = segs[rng.integers(0, segs.size, n)].astype(np.int64)
    tails = rng.choice(100_000_000, size=n, replace=False).astype(np.int64)
    return [str(x) for x in 86 * 10**11 + heads * 10**8 + tails]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _store(path: Path) -> SqlStore:
    from telshield.store.sql import open_store

    return open_store(f"sqlite:///{path.as_posix()}")


# -- bulk ------------------------------------------------------------------------------------


def bench_bulk(n: int, work: Path) -> dict[str, float]:
    """Time the bulk disposal of ``n`` numbers and the hand-written baseline."""
    from telshield.domain.cases import ActionKind, Policy
    from telshield.services.cases import CaseService
    from telshield.services.store import FixedClock

    numbers = _numbers(n)
    store = _store(work / "bulk.db")
    cases = CaseService(store, FixedClock(T0), Policy())
    t, c = time.perf_counter(), time.process_time()
    r = cases.bulk(numbers, ActionKind.SUSPEND, actor="bench", reason="GOIP den",
                   group_ref="den:1")
    ours, ours_cpu = time.perf_counter() - t, time.process_time() - c
    assert r.moved == n
    store.dispose()

    base_store = _store(work / "base.db")  # same schema, by the same migrations
    base_store.dispose()
    con = sqlite3.connect(work / "base.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    ts = T0.isoformat(" ")
    t, c = time.perf_counter(), time.process_time()
    con.execute("BEGIN IMMEDIATE")
    con.executemany(
        "INSERT INTO cases (id, msisdn, status, tier, opened_at, updated_at, group_ref, is_open)"
        " VALUES (?, ?, 'suspended', 'bulk', ?, ?, 'den:1', 1)",
        ((i + 1, m, ts, ts) for i, m in enumerate(numbers)),
    )
    con.executemany(
        "INSERT INTO actions (case_id, kind, actor, at, reason, from_status, to_status, notice)"
        " VALUES (?, 'suspend', 'bench', ?, 'GOIP den', 'open', 'suspended', 'notice')",
        ((i + 1, ts) for i in range(n)),
    )
    con.executemany(
        "INSERT INTO outbox (kind, msisdn, key, text, created_at, attempts)"
        " VALUES (?, ?, ?, '', ?, 0)",
        ((k, m, f"action:{i}:{k}:{m}", ts) for i, m in enumerate(numbers)
         for k in ("suspend", "notify")),
    )
    con.executemany(
        "INSERT INTO audit_events (seq, actor, action, subject, at, detail, prev_hash, hash)"
        " VALUES (?, 'bench', 'case.suspend', ?, ?, '{}', '', '')",
        ((i + 1, f"case:{i % n}", ts) for i in range(2 * n)),
    )
    con.execute("COMMIT")
    base, base_cpu = time.perf_counter() - t, time.process_time() - c
    con.close()
    return {"numbers": n, "telshield_s": ours, "baseline_s": base, "ratio": ours / base,
            "telshield_cpu_s": ours_cpu, "baseline_cpu_s": base_cpu,
            "cpu_ratio": ours_cpu / base_cpu, "numbers_per_s": n / ours}


# -- snapshot --------------------------------------------------------------------------------


def seed_lists(db: Path, n: int) -> float:
    """Load ``n`` number entries (1% white, 0.5% police-ordered) at list version 1."""
    _store(db).dispose()
    numbers = _numbers(n, seed=11)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    ts = T0.isoformat(" ")
    t = time.perf_counter()
    # Bulk-load practice: drop the indexes, load, build them again (sorted, much faster).
    indexes = con.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND "
                          "tbl_name = 'list_entries' AND sql IS NOT NULL").fetchall()
    con.execute("BEGIN")
    for (sql,) in indexes:
        con.execute("DROP INDEX " + sql.split()[2])
    con.execute("UPDATE heads SET n = 1 WHERE name = 'lists'")
    con.execute("INSERT INTO list_versions VALUES (1, ?, 'bench', 'seed')", (ts,))
    con.executemany(
        "INSERT INTO list_entries (kind, value, value_end, colour, source, police_ordered, reason,"
        " actor, created_at, added_version)"
        " VALUES ('number', ?, '', ?, ?, ?, 'seed', 'bench', ?, 1)",
        ((m, "white" if i % 100 == 0 else "black", "police" if i % 200 == 1 else "detection",
          1 if i % 200 == 1 else 0, ts) for i, m in enumerate(numbers)),
    )
    for (sql,) in indexes:
        con.execute(sql)
    con.execute("COMMIT")
    con.close()
    return time.perf_counter() - t


def snapshot_phase(db: Path, phase: str) -> dict[str, float]:
    """One side of the snapshot bench, in this (fresh) process."""
    from telshield.screening.numbering import compiled_index
    from telshield.screening.snapshot import BLACK, GREY, POLICE, WHITE, Snapshot, SnapshotInput
    from telshield.services.lists import ListService
    from telshield.services.store import FixedClock

    bits = np.array([GREY, BLACK, WHITE], dtype=np.uint8)
    compiled_index()  # the numbering plan the snapshot classifies with: compiled before measuring
    if phase == "baseline":
        con = sqlite3.connect(db)
        n = con.execute("SELECT count(*) FROM list_entries").fetchone()[0]
        con.close()
        numbers = np.array(_numbers(n, seed=11), dtype=np.str_).astype(np.int64)
        flags = np.full(n, BLACK, dtype=np.uint8)
        rss_before = _peak_mib()
        t = time.perf_counter()
        snap = Snapshot.build(SnapshotInput(list_numbers=numbers, list_flags=flags))
    else:
        store = _store(db)
        rss_before = _peak_mib()
        t = time.perf_counter()
        cols = ListService(store, FixedClock(T0)).number_columns()
        flags = np.where(cols.police, POLICE, bits[cols.colours]).astype(np.uint8)
        snap = Snapshot.build(SnapshotInput(list_numbers=cols.numbers, list_flags=flags,
                                            version=str(cols.version)))
    took = time.perf_counter() - t
    return {"seconds": took, "entries": float(len(snap)), "peak_rss_mib": _peak_mib(),
            "rss_before_mib": rss_before, "snapshot_mib": snap.memory_bytes() / 2**20}


def _in_fresh_process(db: Path, phase: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "disposal", "_phase", str(db), phase],
        check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": "."},
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def bench_snapshot(n: int, work: Path) -> dict[str, float]:
    """Seed ``n`` entries, then build the snapshot from the store and from an array."""
    db = work / "lists.db"
    load = seed_lists(db, n)
    ours = _in_fresh_process(db, "store")
    base = _in_fresh_process(db, "baseline")
    return {"entries": n, "seed_load_s": load, "telshield_s": ours["seconds"],
            "baseline_s": base["seconds"], "ratio": ours["seconds"] / base["seconds"],
            "peak_rss_mib": ours["peak_rss_mib"], "baseline_peak_rss_mib": base["peak_rss_mib"],
            "snapshot_mib": ours["snapshot_mib"], "distinct_numbers": ours["entries"]}


def main(argv: list[str]) -> None:
    """Run the disposal benchmarks."""
    if argv[:1] == ["_phase"]:
        print(json.dumps(snapshot_phase(Path(argv[1]), argv[2])))
        return
    p = argparse.ArgumentParser(prog="python -m bench disposal")
    p.add_argument("what", choices=["bulk", "snapshot", "all"], nargs="?", default="all")
    p.add_argument("--numbers", type=int, default=180_000, help="numbers disposed in bulk")
    p.add_argument("--entries", type=int, default=10_000_000, help="list entries for snapshot")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="telshield-bench-") as tmp:
        work = Path(tmp)
        if args.what in ("bulk", "all"):
            print(json.dumps({"bulk": bench_bulk(args.numbers, work)}, indent=1))
        if args.what in ("snapshot", "all"):
            print(json.dumps({"snapshot": bench_snapshot(args.entries, work)}, indent=1))
