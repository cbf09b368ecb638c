"""A tiny labelled province for detection tests and examples: people, couriers, fraud SIMs.

Deterministic for a seed and small enough for unit tests; the province simulator (``world``)
is what detection is measured on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from telshield.reference.schemas import FEEDS

START = datetime(2026, 11, 1)


@dataclass(frozen=True)
class Toy:
    """Feeds as Arrow tables plus the truth: which numbers are fraud, and when they began."""

    feeds: dict[str, pa.Table]
    fraud: dict[str, datetime]  # msisdn -> first fraud call
    couriers: set[str]

    def write(self, lake: Path) -> None:
        """Write the feeds in the lake layout (day partitions for time feeds)."""
        for name, table in self.feeds.items():
            feed = FEEDS[name]
            if feed.time_column is None:
                (lake / name).mkdir(parents=True, exist_ok=True)
                pq.write_table(table, lake / name / "part-0.parquet")
                continue
            days = pc.strftime(table[feed.time_column], format="%Y-%m-%d")
            for day in sorted(set(days.to_pylist())):
                mask = pc.equal(days, day)
                d = lake / name / f"day={day}"
                d.mkdir(parents=True, exist_ok=True)
                pq.write_table(table.filter(mask), d / "part-0.parquet")


def _num(i: int) -> str:
    return f"861380000{i:04d}"


def make_toy(*, seed: int = 7, normal: int = 300, couriers: int = 15, fraud: int = 20,
             days: int = 6, quiet_days: int = 1) -> Toy:
    """Build the toy province: fraud SIMs start calling on days ``quiet_days`` to ``days - 2``
    (before that the data holds only ordinary life)."""
    if not 1 <= quiet_days <= days - 2:
        raise ValueError(f"quiet_days must be 1 to days - 2 ({days - 2}), not {quiet_days}")
    rng = np.random.default_rng(seed)
    people = [_num(i) for i in range(normal)]
    cour = [_num(5000 + i) for i in range(couriers)]
    bad = [_num(8000 + i) for i in range(fraud)]
    contacts = {p: list(rng.choice(people, size=8, replace=False)) for p in people + cour}
    rows: list[tuple[datetime, int, str, str, str, str]] = []

    def call(at: datetime, a: str, b: str, dur: int, imei: str = "35000000000000",
             cell: str | None = None) -> None:
        # People and couriers move from cell to cell day by day; fraud SIMs sit still.
        rows.append((at, dur, a, b, imei, cell or f"cell-{(int(a[-4:]) + at.day) % 20}"))

    for d in range(days):
        day = START + timedelta(days=d)
        for p in people:
            for _ in range(rng.poisson(2)):
                at = day + timedelta(seconds=int(rng.integers(7 * 3600, 23 * 3600)))
                b = contacts[p][int(rng.integers(0, 8))]
                call(at, p, b, int(rng.lognormal(4.5, 1.0)) if rng.random() < 0.85 else 0)
        for c in cour:
            for _ in range(rng.poisson(25)):
                at = day + timedelta(seconds=int(rng.integers(8 * 3600, 20 * 3600)))
                b = people[int(rng.integers(0, normal))]
                call(at, c, b, int(rng.integers(5, 40)) if rng.random() < 0.8 else 0)
                if rng.random() < 0.4:  # the customer calls the courier back
                    call(at + timedelta(minutes=3), b, c, int(rng.integers(5, 60)))
    first: dict[str, datetime] = {}
    for i, f in enumerate(bad):
        begin = START + timedelta(days=quiet_days + i % (days - 1 - quiet_days),
                                  hours=int(rng.integers(8, 12)))
        for k in range(int(rng.integers(60, 120))):
            at = begin + timedelta(minutes=int(k * rng.integers(3, 9)))
            b = people[int(rng.integers(0, normal))]
            long = rng.random() < 0.05
            call(at, f, b, int(rng.integers(300, 1500)) if long else
                 (0 if rng.random() < 0.5 else int(rng.integers(3, 25))), "86123400000000",
                 f"cell-{i % 20}")
        first[f] = begin
    rows.sort()
    n = len(rows)
    calls = pa.table({
        "call_id": [f"C{i:08d}" for i in range(n)],
        "started_at": pa.array([r[0] for r in rows], pa.timestamp("us")),
        "duration_s": pa.array([r[1] for r in rows], pa.int32()),
        "caller": [r[2] for r in rows], "callee": [r[3] for r in rows],
        "ingress": ["radio"] * n, "caller_cell": [r[5] for r in rows],
        "caller_imei": [r[4] for r in rows], "callee_cell": pa.nulls(n, pa.string()),
        "ingress_carrier": pa.nulls(n, pa.string()),
    }, schema=FEEDS["calls"].schema)
    everyone = people + cour + bad
    reg = [START - timedelta(days=400) for _ in people + cour]
    reg += [first[f] - timedelta(days=2) for f in bad]
    subs = pa.table({
        "msisdn": everyone, "imsi": [f"46000{i:010d}" for i in range(len(everyone))],
        "id_hash": ["ab" * 32] * len(everyone), "holder_kind": ["individual"] * len(everyone),
        "registered_at": pa.array(reg, pa.timestamp("us")),
        "channel_id": ["CH-1"] * len(everyone), "staff_id": ["ST-1"] * len(everyone),
        "terminal_id": pa.nulls(len(everyone), pa.string()),
        "order_id": pa.nulls(len(everyone), pa.string()), "status": ["active"] * len(everyone),
    }, schema=FEEDS["subscribers"].schema)
    clued = bad[::2]
    clues = pa.table({
        "clue_id": [f"K{i}" for i in range(len(clued))],
        "reported_at": pa.array([first[f] + timedelta(hours=20) for f in clued],
                                pa.timestamp("us")),
        "msisdn": clued, "case_ref": ["R"] * len(clued),
        "fraud_type": ["investment"] * len(clued), "unit": ["U"] * len(clued),
    }, schema=FEEDS["clues"].schema)
    cells = pa.table({
        "cell_id": [f"cell-{i}" for i in range(20)], "lat": [32.0] * 20, "lon": [118.0] * 20,
        "county": [f"county-{i % 5}" for i in range(20)], "city": ["Nanjing"] * 20,
        "province": ["Jiangsu"] * 20,
    }, schema=FEEDS["cells"].schema)
    intel = pa.table({"tac": ["86123400"], "kind": ["goip"], "vendor": ["V"], "model": ["M"]},
                     schema=FEEDS["device_intel"].schema)
    return Toy({"calls": calls, "subscribers": subs, "clues": clues, "cells": cells,
                "device_intel": intel}, first, set(cour))


def write_world(toy: Toy, out: Path) -> None:
    """Write the toy as the simulator does: ``<feed>/part-0.parquet`` and ``truth/``."""
    for name, table in toy.feeds.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out / name / "part-0.parquet")
    subs = toy.feeds["subscribers"]["msisdn"].to_pylist()
    roles = ["fraud_sim" if n in toy.fraud else "courier" if n in toy.couriers else "normal"
             for n in subs]
    (out / "truth").mkdir(exist_ok=True)
    pq.write_table(pa.table({
        "msisdn": subs, "role": roles, "scenario": roles,
        "first_fraud_call_at": pa.array([toy.fraud.get(n) for n in subs], pa.timestamp("us")),
    }), out / "truth" / "numbers.parquet")
