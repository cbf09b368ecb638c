"""The den profile's member rules on a hand-built lake: a den of ordinary-looking phones (forged
TACs, so no den device sets it apart) on one cell, and beside it on the same cell two honest
one-way callers that would join it without the rules: an old line of ours (registered two years
ago) calling strangers as fast as a port, and a young line of ours calling one stranger an hour.
With the shipped profile the den holds its own SIMs only and its evidence says why; with both
rules off the two honest lines are taken into it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.services.feeds import write_feed

from telshield.domain.dens import DenProfile
from telshield.services.dens import DenService
from telshield.services.lakeread import FeedReader
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore
from telshield.wiring.dens import load_profile

T0 = datetime(2026, 11, 1)
UNTIL = T0 + timedelta(days=4)
OLD_LINE = "8613711110000"
SLOW_LINE = "8613722220000"


@dataclass
class Lake:
    calls: list[dict[str, Any]] = field(default_factory=list)
    den: list[str] = field(default_factory=list)
    ours_young: list[str] = field(default_factory=list)

    def call(self, at: datetime, caller: str, *, imei: str, duration: int) -> None:
        n = len(self.calls)
        self.calls.append({"call_id": f"C{n:08d}", "started_at": at, "duration_s": duration,
                           "caller": caller, "callee": f"86139{n:08d}", "ingress": "radio",
                           "caller_cell": "C-DEN", "caller_imei": imei, "callee_cell": None})


def _build(root: Path) -> Lake:
    lk = Lake()
    for port in range(8):
        imei = f"3535{port:04d}7806883"  # a phone-looking TAC per port: no device_intel hit
        for swap in range(2):
            sim = f"86150{port:02d}{swap:06d}"
            lk.den.append(sim)
            for day in range(2 * swap, 2 * swap + 2):
                for k in range(20):  # 20 strangers a day from 09:00 to 15:59
                    at = T0 + timedelta(days=day, hours=9 + k // 3, minutes=3 * (k % 3) + port)
                    lk.call(at, sim, imei=imei, duration=20 if k % 2 else 0)
    lk.ours_young = lk.den[:4]
    for day in range(4):
        for k in range(20):  # the old line: a port's pace, on the den's cell
            at = T0 + timedelta(days=day, hours=9 + k // 3, minutes=3 * (k % 3) + 40)
            lk.call(at, OLD_LINE, imei="868888000000121", duration=30)
        for h in range(8):  # the slow line: one call an hour, in the den's hours
            lk.call(T0 + timedelta(days=day, hours=9 + h, minutes=50), SLOW_LINE,
                    imei="868888000000231", duration=30)
    write_feed(root, "calls", lk.calls)
    write_feed(root, "cells", [{"cell_id": "C-DEN", "lat": 31.955, "lon": 118.84,
                                "county": "Jiangning", "city": "Nanjing",
                                "province": "Jiangsu"}])
    ages = {OLD_LINE: 730, SLOW_LINE: 20} | {m: 3 for m in lk.ours_young}
    write_feed(root, "subscribers", [
        {"msisdn": m, "imsi": f"4600{i:011d}", "id_hash": f"{i:064x}",
         "holder_kind": "individual", "registered_at": T0 - timedelta(days=d),
         "channel_id": "CH-X", "staff_id": "ST-X", "status": "active"}
        for i, (m, d) in enumerate(ages.items())])
    return lk


@pytest.fixture
def lake(tmp_path: Path) -> tuple[Path, Lake]:
    root = tmp_path / "lake"
    return root, _build(root)


def _members(store: SqlStore, root: Path, profile: DenProfile) -> list[tuple[set[str], dict]]:
    svc = DenService(store, FixedClock(UNTIL), FeedReader(root), profile)
    _, found = svc.detect(T0, UNTIL)
    return [({m.msisdn for m in f.members}, f.evidence) for f in found]


def test_the_shipped_profile_keeps_old_and_slow_lines_out_of_the_den(
        store: SqlStore, lake: tuple[Path, Lake]) -> None:
    root, lk = lake
    profile = load_profile(None)  # the shipped file, which states the defaults
    assert profile == DenProfile()
    assert (profile.max_sim_age_days, profile.min_calls_per_hour) == (180, 1.5)
    [(members, evidence)] = _members(store, root, profile)
    assert members == set(lk.den)  # the real den, whole; neither honest line
    rules = evidence["member_rules"]
    assert rules["max_sim_age_days"] == 180 and rules["min_calls_per_hour"] == 1.5
    assert rules["oldest_sim_age_days"] == 7.0  # registered 3 days before T0, window 4 days
    assert rules["slowest_calls_per_hour"] >= 1.5
    assert rules["slow_callers_left_out"] == 1


def test_without_the_rules_the_honest_lines_join_the_den(
        store: SqlStore, lake: tuple[Path, Lake]) -> None:
    root, lk = lake
    [(members, _)] = _members(store, root,
                              DenProfile(max_sim_age_days=0, min_calls_per_hour=0))
    assert members == set(lk.den) | {OLD_LINE, SLOW_LINE}
    [(members, _)] = _members(store, root, DenProfile(min_calls_per_hour=0))
    assert members == set(lk.den) | {SLOW_LINE}  # the age rule alone
    [(members, _)] = _members(store, root, DenProfile(max_sim_age_days=0))
    assert members == set(lk.den) | {OLD_LINE}  # the pace rule alone
