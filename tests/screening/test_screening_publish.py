"""The publisher and the faces that follow it: versions written whole, a pointer that only
ever names a complete version (racing publishers included), pruning, and engines that swap
versions in while decisions keep flowing, none of them mixed."""

from __future__ import annotations

import json
import threading
import time
import traceback
from pathlib import Path

import numpy as np
import pytest

from telshield.domain.errors import Conflict, InvalidInput, Unavailable
from telshield.screening.decisionlog import MemoryDecisionLog
from telshield.screening.engine import Engine, EngineConfig
from telshield.screening.follow import SnapshotFollower
from telshield.screening.metrics import render
from telshield.screening.publish import (
    POINTER,
    VERSIONS,
    current_version,
    load_current,
    publish,
    published_versions,
)
from telshield.screening.snapshot import BLACK, SnapshotInput

CALLEE = "8613900000009"
BLACK_AT = [8613800000000 + k for k in range(40)]  # version k blacklists BLACK_AT[k]


def _input(k: int, version: str = "") -> SnapshotInput:
    return SnapshotInput(list_numbers=np.array([BLACK_AT[k % len(BLACK_AT)]], dtype=np.int64),
                         list_flags=np.array([BLACK], np.uint8),
                         roaming=np.array([8613812340000 + k], dtype=np.int64),
                         as_of=time.time(), version=version)


def test_publish_makes_a_version_current_and_keeps_the_newest(tmp_path: Path) -> None:
    d = tmp_path / "snap"
    with pytest.raises(Unavailable, match="no screening snapshot published"):
        load_current(d)
    assert current_version(d) is None
    names = [publish(_input(k), d, keep=3) for k in range(5)]
    assert len(set(names)) == 5 and current_version(d) == names[-1]
    assert published_versions(d) == names[-3:]
    back = load_current(d)
    assert back.version == names[-1]
    assert back.list_numbers.tolist() == [BLACK_AT[4]]
    assert back.roaming.tolist() == [8613812340004]  # roaming is saved with the rest
    assert publish(_input(5, "named-1"), d, keep=3) == "named-1"
    with pytest.raises(Conflict, match="already published"):
        publish(_input(6, "named-1"), d)
    with pytest.raises(InvalidInput, match="letters, digits"):
        publish(_input(6, "../escape"), d)
    assert current_version(d) == "named-1"


def test_leftovers_of_a_crashed_publisher_are_ignored_then_removed(tmp_path: Path) -> None:
    d = tmp_path / "snap"
    publish(_input(0, "a"), d)
    half = d / VERSIONS / ".b.123.456"  # a publisher died while writing
    half.mkdir()
    (half / "list_numbers.npy").write_bytes(b"\x93NUMPY half")
    assert load_current(d).version == "a" and published_versions(d) == ["a"]
    old = time.time() - 7200
    import os

    os.utime(half, (old, old))
    publish(_input(1, "c"), d)
    assert not half.exists()


def test_a_directory_from_earlier_releases_still_loads(tmp_path: Path) -> None:
    legacy = tmp_path / "snap"
    publish(_input(3, "old"), tmp_path / "tmp")
    (tmp_path / "tmp" / VERSIONS / "old").rename(legacy)  # columns + meta.json, no pointer
    assert current_version(legacy) == "old"
    assert load_current(legacy).list_numbers.tolist() == [BLACK_AT[3]]


def test_racing_publishers_never_leave_the_pointer_on_an_incomplete_version(
    tmp_path: Path,
) -> None:
    d = tmp_path / "snap"
    publish(_input(0, "v-start"), d, keep=2)
    published: set[str] = {"v-start"}
    errors: list[BaseException] = []
    stop = threading.Event()

    def publisher(w: int) -> None:
        try:
            for k in range(12):
                published.add(publish(_input(k, f"v-{w}-{k}"), d, keep=2))
        except BaseException as e:  # reported by the test
            errors.append(e)

    def reader() -> None:
        while not stop.is_set():
            try:
                data = load_current(d)
                assert data.version.startswith("v-")
            except BaseException as e:  # reported by the test
                errors.append(e)
                return

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=publisher, args=(w,)) for w in range(3)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert errors == [], "".join(
        traceback.format_exception(errors[0]) if errors else "")
    current = current_version(d)
    assert current in published and load_current(d).version == current
    assert 1 <= len(published_versions(d)) <= 3  # keep=2, and the current one is never pruned
    meta = json.loads((d / VERSIONS / current / "meta.json").read_text())
    assert all(meta["finished_ns"] >= json.loads((d / VERSIONS / v / "meta.json").read_text())
               ["finished_ns"] for v in published_versions(d))  # the newest one is current
    assert (d / POINTER).read_text().strip() == current


def test_decisions_keep_flowing_across_many_swaps_and_none_is_mixed(tmp_path: Path) -> None:
    """A publisher publishes 30 versions while a follower swaps them in and decisions run:
    every decision's snapshot version is a published one, and its outcome is that version's
    (version k blacklists exactly BLACK_AT[k])."""
    d = tmp_path / "snap"
    first = publish(_input(0), d)
    log = MemoryDecisionLog()
    engine = Engine(EngineConfig(log_allowed=True), decision_log=log)
    follower = SnapshotFollower(engine, d, every_s=0.001)
    assert follower.check() and engine.snapshot is not None
    published = {first: 0}
    done = threading.Event()

    def publisher() -> None:
        for k in range(1, 30):
            published[publish(_input(k), d, keep=2)] = k
            time.sleep(0.005)
        done.set()

    def following() -> None:
        while not done.is_set():
            follower.check()
        follower.check()

    threads = [threading.Thread(target=publisher), threading.Thread(target=following)]
    for t in threads:
        t.start()
    callers = [str(n) for n in BLACK_AT[:30]]
    batches = 0
    while not done.is_set() or batches < 5:
        ds = engine.decide_batch(callers, [CALLEE] * 30, "radio")
        engine.decide(callers[batches % 30], CALLEE, "radio")
        batches += 1
    for t in threads:
        t.join()
    for r in log.records:
        assert r.snapshot in published
        k = published[r.snapshot]
        assert ("list:black" in r.reasons) == (r.caller == str(BLACK_AT[k])), r
    assert len({r.snapshot for r in log.records}) > 3  # many versions were decided with
    assert follower.reloads >= 3 and follower.failures == 0
    assert engine.snapshot is not None
    assert engine.snapshot.version == current_version(d)
    assert len(ds) == 30


def test_a_broken_version_counts_as_a_reload_failure_in_the_metrics(tmp_path: Path) -> None:
    d = tmp_path / "snap"
    good = publish(_input(0), d)
    engine = Engine()
    follower = SnapshotFollower(engine, d, every_s=1)
    follower.check()
    (d / VERSIONS / "broken").mkdir()
    (d / VERSIONS / "broken" / "meta.json").write_text("{not json")
    (d / POINTER).write_text("broken\n")
    assert not follower.check()
    text = render(engine, follower=follower).decode()
    assert "telshield_screening_reload_failures_total 1.0" in text
    assert f'telshield_screening_snapshot_info{{version="{good}"}} 1.0' in text
    assert "telshield_screening_reloads_total 1.0" in text
    assert "telshield_screening_fail_open_total 0.0" in text
    assert "telshield_screening_snapshot_age_seconds" in text
    assert engine.snapshot is not None and engine.snapshot.version == good  # kept serving
