"""The hour-by-hour replay: snapshots move with detection and police clues, and are judged."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from telshield.domain.alerts import Tier
from telshield.evaluate.replay import BARRED, replay
from telshield.screening.engine import EngineConfig

T0 = datetime(2026, 11, 1, 0, 0, 0)
FRAUD = "8618600000001"  # flagged by "detection" at the end of hour 0
CLUED = "8618600000002"  # named by the police at 01:30
LEGIT = "8618600000003"


class FakeDetector:
    """Stands in for detection: alerts FRAUD (suspend tier) from the end of hour 0 on."""

    state_path: Path | None = None

    def __init__(self) -> None:
        self.runs: list[datetime] = []

    def features(self, until: datetime, active_since: datetime | None = None) -> datetime:
        return until

    def score(self, until: datetime) -> datetime:
        return until

    def alerts(self, frame: Any, until: datetime) -> list[Any]:
        self.runs.append(until)
        return [SimpleNamespace(msisdn=FRAUD, tier=Tier.SUSPEND)] if until > T0 else []


def _world(root: Path) -> Path:
    rows: list[tuple[str, datetime, str, str, str, bool, str]] = []
    k = 0
    for h in range(3):
        for m in range(0, 60, 10):
            t = T0 + timedelta(hours=h, minutes=m)
            for caller, fraud, route, ingress in (
                (FRAUD, True, "inter_network", "radio"),
                (CLUED, True, "inter_province", "radio"),
                (LEGIT, False, "inter_network", "radio"),
                ("8613812345678", True, "international", "international"),  # spoofed
            ):
                k += 1
                rows.append((f"C{k:05d}", t, caller, f"86139{k:08d}", ingress, fraud, route))
    (root / "calls").mkdir(parents=True)
    (root / "truth").mkdir()
    (root / "clues").mkdir()
    pq.write_table(pa.table({
        "call_id": [r[0] for r in rows], "started_at": pa.array([r[1] for r in rows],
                                                               pa.timestamp("us")),
        "duration_s": pa.array([30] * len(rows), pa.int32()),
        "caller": [r[2] for r in rows], "callee": [r[3] for r in rows],
        "ingress": [r[4] for r in rows],
    }), root / "calls" / "part-00000.parquet")
    pq.write_table(pa.table({
        "call_id": [r[0] for r in rows], "is_fraud": [r[5] for r in rows],
        "scenario": ["x"] * len(rows), "route": [r[6] for r in rows],
    }), root / "truth" / "calls.parquet")
    pq.write_table(pa.table({
        "reported_at": pa.array([T0 + timedelta(hours=1, minutes=30)], pa.timestamp("us")),
        "msisdn": [CLUED],
    }), root / "clues" / "part-00000.parquet")
    return root


def test_replay_moves_lists_hour_by_hour(tmp_path: Path) -> None:
    det = FakeDetector()
    r = replay(det, _world(tmp_path / "w"), config=EngineConfig(max_age_s=7200))
    assert r.hours == 3 and len(det.runs) == 3
    by = {f.route: f for f in r.routes}
    # FRAUD: hour 0 passes, hours 1 and 2 are blocked (suspend tier -> reject).
    assert (by["inter_network"].fraud_calls, by["inter_network"].fraud_rejected) == (18, 12)
    # CLUED: the clue at 01:30 takes effect with the snapshot of 02:00.
    assert (by["inter_province"].fraud_calls, by["inter_province"].fraud_rejected) == (18, 6)
    # Spoofed +86 caller over the international gateway: always rejected.
    assert by["international"].intercepted == 1.0
    assert by["inter_network"].legit_rejected == 0
    total = r.total(BARRED)
    assert total.fraud_calls == 54 and total.fraud_rejected == 36
    assert r.fraud_numbers == 3 and r.fraud_numbers_blocked == 3
    # FRAUD: 01:00 - 00:00; CLUED: 02:00 - 00:00; spoofed: 0 -> median 60 minutes.
    assert r.median_minutes_to_block == 60.0
    assert r.reasons["warning:suspend"] == 12
