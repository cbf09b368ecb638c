"""Device barring: the IMEIs that barred numbers used become black list entries, once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.cases import Policy
from telshield.feeds.schemas import FEEDS
from telshield.services.cases import CaseService
from telshield.services.devices import DeviceBarring
from telshield.services.lakeread import FeedReader
from telshield.services.lists import ListService
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore

FRAUD, OTHER, POLICE, HONEST = "8613900000001", "8613900000002", "8613900000003", "8613900000004"
PHONE, GATEWAY, OLD, HONEST_PHONE = (
    "861234560000011", "861234560000029", "861234560000037", "861234560000045")


def _calls(root: Path, start: datetime) -> None:
    rows = [  # (minutes after start, caller, imei)
        (0, FRAUD, PHONE), (5, FRAUD, PHONE), (9, POLICE, GATEWAY), (12, HONEST, HONEST_PHONE),
        (-60 * 24 * 10, FRAUD, OLD),  # ten days before: outside the 7-day look-back
        (20, OTHER, PHONE), (21, FRAUD, None),
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
        "callee_cell": pa.nulls(n, pa.string()),
    }, schema=FEEDS["calls"].schema)
    (root / "calls").mkdir(parents=True)
    pq.write_table(table, root / "calls" / "part-0.parquet")


def test_devices_of_barred_numbers_are_listed_once(
    store: SqlStore, clock: FixedClock, tmp_path: Path
) -> None:
    _calls(tmp_path, clock.at - timedelta(hours=2))
    lists, cases = ListService(store, clock), CaseService(store, clock, Policy())
    barring = DeviceBarring(lists, cases, FeedReader(tmp_path))
    assert barring.run(clock.at).devices == 0  # nobody barred yet

    # A suspend-tier alert restricts FRAUD (the default policy); police block POLICE.
    cases.intake([Alert(FRAUD, 0.95, Tier.SUSPEND, (Reason("rule:x", "x"),), clock.at, clock.at)])
    lists.add("number", POLICE, "black", source="police", reason="clue 7", actor="police",
              police_ordered=True)
    result = barring.run(clock.at)
    assert (result.numbers, result.devices) == (2, 2)
    entries = {e.value: e for e in lists.find(kind="imei")}
    assert set(entries) == {PHONE, GATEWAY}  # not OLD (outside the window), not HONEST_PHONE
    assert all(e.colour.value == "black" and e.source.value == "disposal" for e in entries.values())
    assert "139****0001" in entries[PHONE].reason and entries[PHONE].expires_at is not None

    # Nothing new barred: nothing to do; a rerun never lists an IMEI twice.
    assert barring.run(clock.at).devices == 0
    again = DeviceBarring(lists, cases, FeedReader(tmp_path)).run(clock.at)
    assert again.devices == 0 and len(lists.find(kind="imei")) == 2
