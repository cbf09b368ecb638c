"""Device barring: the IMEIs barred numbers used become black list entries, once, and only where
the number is confirmed fraud or the handset is not one person's long-used phone."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.cases import ActionKind, Policy
from telshield.domain.clock import store_to_feed
from telshield.domain.errors import InvalidInput
from telshield.reference.schemas import FEEDS
from telshield.services.audit import AuditService
from telshield.services.cases import CaseService
from telshield.services.devices import DeviceBarring
from telshield.services.lakeread import FeedReader
from telshield.services.lists import ListService
from telshield.services.store import FixedClock
from telshield.services.users import UserService
from telshield.settings import DisposalSettings, Settings, load_settings
from telshield.store.sql import SqlStore
from telshield.wiring.disposal import Disposal, device_barring

FRAUD, POLICE, HONEST, OFFICE, NEWBIE = (
    "8613900000001", "8613900000003", "8613900000004", "8613900000005", "8613900000006")
SIM_B, SIM_C = "8613900000007", "8613900000008"  # the next SIMs a crew put in its phone
PHONE, GATEWAY, OLD, HONEST_PHONE, DESK, NEW_PHONE = (
    "861234560000011", "861234560000029", "861234560000037", "861234560000045",
    "861234560000052", "861234560000060")
DAY = 24 * 60


def _calls(root: Path, start: datetime) -> None:
    rows = [  # (minutes after start, caller, imei)
        (0, FRAUD, PHONE), (5, FRAUD, PHONE), (9, POLICE, GATEWAY), (12, HONEST, HONEST_PHONE),
        (-10 * DAY, FRAUD, OLD),  # ten days before: outside the 7-day look-back
        (-2 * DAY, SIM_B, PHONE), (-DAY, SIM_C, PHONE), (21, FRAUD, None),  # 3 SIMs, one phone
        (-6 * DAY, OFFICE, DESK), (-3 * DAY, OFFICE, DESK), (30, OFFICE, DESK),  # a desk phone
        (-5 * DAY, NEWBIE, HONEST_PHONE),  # the newcomer's SIM was in an old phone before...
        (40, NEWBIE, NEW_PHONE),  # ...and now in a phone nobody saw until an hour ago
    ]
    n = len(rows)
    table = pa.table({
        "call_id": [f"C{i}" for i in range(n)],
        "started_at": pa.array([start + timedelta(minutes=m) for m, _, _ in rows],
                               pa.timestamp("us")),
        "duration_s": pa.array([30] * n, pa.int32()),
        "caller": [c for _, c, _ in rows],
        "callee": ["8613800000009"] * n,
        "ingress": ["radio"] * n,
        "caller_cell": ["cell-1"] * n,
        "caller_imei": [i for _, _, i in rows],
        "callee_cell": pa.nulls(n, pa.string()), "ingress_carrier": pa.nulls(n, pa.string()),
    }, schema=FEEDS["calls"].schema)
    (root / "calls").mkdir(parents=True)
    pq.write_table(table, root / "calls" / "part-0.parquet")


def _alert(msisdn: str, at: datetime) -> Alert:
    return Alert(msisdn, 0.95, Tier.SUSPEND, (Reason("rule:x", "x"),), at, at)


def test_devices_are_barred_in_proportion_to_certainty(
    store: SqlStore, clock: FixedClock, tmp_path: Path
) -> None:
    _calls(tmp_path, clock.at - timedelta(hours=2))
    lists, cases = ListService(store, clock), CaseService(store, clock, Policy())
    barring = DeviceBarring(lists, cases, FeedReader(tmp_path))
    assert barring.run(clock.at).devices == 0  # nobody barred yet

    # Suspend-tier alerts restrict FRAUD, OFFICE and NEWBIE (the default policy); police block
    # POLICE.
    cases.intake([_alert(n, clock.at) for n in (FRAUD, OFFICE, NEWBIE)])
    lists.add("number", POLICE, "black", source="police", reason="clue 7", actor="police",
              police_ordered=True)
    result = barring.run(clock.at)
    assert (result.numbers, result.devices) == (4, 3)
    entries = {e.value: e for e in lists.find(kind="imei")}
    # PHONE: three SIMs in a week; GATEWAY: a police-ordered block; NEW_PHONE: first seen an
    # hour ago. Not DESK (one line's phone for a week), OLD (outside the window), HONEST_PHONE.
    assert set(entries) == {PHONE, GATEWAY, NEW_PHONE}
    assert "3 SIMs" in entries[PHONE].reason and "139****0001" in entries[PHONE].reason
    assert "confirmed" in entries[GATEWAY].reason
    assert "first seen" in entries[NEW_PHONE].reason
    assert all(e.colour.value == "black" and e.source.value == "disposal" for e in entries.values())
    assert entries[PHONE].expires_at is not None

    # Nothing new barred: nothing to do; a rerun never lists an IMEI twice.
    assert barring.run(clock.at).devices == 0
    again = DeviceBarring(lists, cases, FeedReader(tmp_path)).run(clock.at)
    assert again.devices == 0 and len(lists.find(kind="imei")) == 3

    # Once OFFICE's case is confirmed as fraud, its desk phone is barred too.
    case = cases.find(msisdn=OFFICE)[0]
    assert case.id is not None
    cases.act(case.id, ActionKind.CONFIRM, actor="analyst", reason="victims' reports")
    assert barring.run(clock.at).devices == 1
    assert "confirmed" in {e.value: e for e in lists.find(kind="imei")}[DESK].reason


def test_a_young_lake_does_not_make_every_handset_fresh(
    store: SqlStore, clock: FixedClock, tmp_path: Path
) -> None:
    """On data that begins within the fresh period, every phone is 'first seen' recently: that
    says nothing, so only SIM rotation or confirmation bars a handset."""
    root = tmp_path
    start = clock.at - timedelta(hours=5)
    table = pa.table({
        "call_id": ["C1"], "started_at": pa.array([start], pa.timestamp("us")),
        "duration_s": pa.array([30], pa.int32()), "caller": [OFFICE], "callee": [HONEST],
        "ingress": ["radio"], "caller_cell": ["cell-1"], "caller_imei": [DESK],
        "callee_cell": pa.nulls(1, pa.string()), "ingress_carrier": pa.nulls(1, pa.string()),
    }, schema=FEEDS["calls"].schema)
    (root / "calls").mkdir(parents=True)
    pq.write_table(table, root / "calls" / "part-0.parquet")
    lists, cases = ListService(store, clock), CaseService(store, clock, Policy())
    cases.intake([_alert(OFFICE, clock.at)])
    assert DeviceBarring(lists, cases, FeedReader(root)).run(clock.at).devices == 0


@pytest.mark.parametrize(
    ("disposal", "barred"),
    [
        ({}, {PHONE, GATEWAY, NEW_PHONE}),  # the defaults: 3 SIMs, first seen within 3 days
        # Three SIMs are no longer enough, and PHONE, first seen 50 h ago, is not new enough.
        ({"device_min_sims": 4, "device_fresh_days": 2}, {GATEWAY, NEW_PHONE}),
        ({"device_min_sims": 4}, {PHONE, GATEWAY, NEW_PHONE}),  # ...PHONE is within 3 days
        ({"device_fresh_days": 0}, {PHONE, GATEWAY}),  # being new no longer bars a phone
        ({"device_min_sims": 2, "device_fresh_days": 0.01}, {PHONE, GATEWAY, HONEST_PHONE}),
        ({"bar_devices": False}, None),  # no barring at all
    ],
)
def test_the_settings_decide_which_handsets_are_barred(
    store: SqlStore, clock: FixedClock, tmp_path: Path, disposal: dict[str, object],
    barred: set[str] | None,
) -> None:
    """``disposal.device_min_sims`` and ``disposal.device_fresh_days`` reach the barring through
    the wiring. PHONE carried three SIMs, the first 50 h before the run; HONEST_PHONE carried
    NEWBIE's SIM and an honest one (two SIMs); NEW_PHONE was first seen 80 minutes before the
    run (0.01 d is under 15 minutes)."""
    _calls(tmp_path, clock.at - timedelta(hours=2))
    settings = Settings(data_dir=tmp_path, disposal=DisposalSettings.model_validate(disposal))
    lists, cases = ListService(store, clock), CaseService(store, clock, Policy())
    d = Disposal(store=store, lists=lists, cases=cases, audit=AuditService(store),
                 users=UserService(store, clock))
    barring = device_barring(settings, d, FeedReader(tmp_path))
    if barred is None:
        assert barring is None
        return
    assert barring is not None
    cases.intake([_alert(n, clock.at) for n in (FRAUD, OFFICE, NEWBIE)])
    lists.add("number", POLICE, "black", source="police", reason="clue 7", actor="police",
              police_ordered=True)
    barring.run(clock.at)
    assert {e.value for e in lists.find(kind="imei")} == barred


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("device_min_sims = 1", "disposal.device_min_sims"),  # one SIM: every phone
        ("device_fresh_days = -1", "disposal.device_fresh_days"),
        ("device_fresh_days = 7", "must be below device_lookback_days"),  # could never fire
        ("device_lookback_days = 2", "must be below device_lookback_days"),  # nor here
    ],
)
def test_device_settings_that_make_no_sense_are_refused(
    tmp_path: Path, text: str, problem: str
) -> None:
    f = tmp_path / "telshield.toml"
    f.write_text(f"[disposal]\n{text}\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=problem):
        load_settings(f)
def test_device_bans_are_stamped_in_store_time(
    store: SqlStore, clock: FixedClock, tmp_path: Path
) -> None:
    # The run's moment is feed time (China Standard Time); the entries it adds carry the store's
    # clock (UTC), as every list entry does, so they expire when the operator's lists say.
    until = store_to_feed(clock.at)
    _calls(tmp_path, until - timedelta(hours=2))
    lists, cases = ListService(store, clock), CaseService(store, clock, Policy())
    cases.intake([_alert(FRAUD, until)])
    assert DeviceBarring(lists, cases, FeedReader(tmp_path), expires_days=180).run(until).devices
    entry = {e.value: e for e in lists.find(kind="imei")}[PHONE]
    assert entry.created_at == clock.at
    assert entry.expires_at == clock.at + timedelta(days=180)
