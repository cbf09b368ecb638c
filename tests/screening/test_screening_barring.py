"""Device barring and barred callees in the engine: a blacklisted IMEI's call set-ups are
rejected (``device:listed``) after the whitelist and before the blacklist; a call from abroad to
a number whose service is restricted or suspended is rejected (``callee:barred``); both in the
single and the batch path, and the list entries and CSV files that feed them."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from telshield.domain.errors import InvalidInput
from telshield.domain.lists import Colour, ListEntry, Source, TargetKind
from telshield.screening.engine import Engine
from telshield.screening.files import input_from_csv
from telshield.screening.publish import load_current, publish
from telshield.screening.snapshot import (
    BLACK,
    POLICE,
    SUSPEND,
    VERIFY,
    WHITE,
    Outcome,
    Snapshot,
    SnapshotInput,
    input_from_entries,
)

BARRED_PHONE, OTHER_PHONE = "861234560000011", "861234560000029"
NEW_SIM, WHITE_N, RELAY, VERIFYING = (
    "8613900000001", "8613900000002", "8613900000003", "8613900000004")
# Another province's SIMs in a den here: not ours, so blocked by a list entry, not suspended.
BLOCKED_RELAY, POLICE_RELAY = "8613500000005", "8613500000006"
FOREIGN, LOCAL, CALLEE = "85512345678", "8613800000009", "8613700000001"


def _engine() -> Engine:
    engine = Engine()
    engine.swap(Snapshot.build(SnapshotInput(
        list_numbers=np.array([int(WHITE_N), int(BLOCKED_RELAY), int(POLICE_RELAY)],
                              dtype=np.int64),
        list_flags=np.array([WHITE, BLACK, BLACK | POLICE], dtype=np.uint8),
        warned=np.array([int(RELAY), int(VERIFYING)], dtype=np.int64),
        warned_tiers=np.array([SUSPEND, VERIFY], dtype=np.uint8),
        barred_imeis=(BARRED_PHONE,),
        as_of=time.time(), version="barring-test",
    )))
    return engine


CASES = [  # caller, callee, ingress, caller IMEI -> outcome, reasons
    (NEW_SIM, CALLEE, "radio", BARRED_PHONE, Outcome.REJECT, ("device:listed",)),
    (NEW_SIM, CALLEE, "radio", OTHER_PHONE, Outcome.ALLOW, ()),
    (NEW_SIM, CALLEE, "radio", None, Outcome.ALLOW, ()),
    (WHITE_N, CALLEE, "radio", BARRED_PHONE, Outcome.ALLOW, ("list:white",)),
    (FOREIGN, RELAY, "international", None, Outcome.REJECT, ("callee:barred",)),
    (FOREIGN, VERIFYING, "international", None, Outcome.ALLOW, ()),
    (FOREIGN, BLOCKED_RELAY, "international", None, Outcome.REJECT, ("callee:barred",)),
    (FOREIGN, POLICE_RELAY, "international", None, Outcome.REJECT, ("callee:barred",)),
    (LOCAL, RELAY, "radio", None, Outcome.ALLOW, ()),  # only calls from abroad
    (LOCAL, BLOCKED_RELAY, "radio", None, Outcome.ALLOW, ()),
    (FOREIGN, CALLEE, "international", None, Outcome.ALLOW, ()),
]


@pytest.mark.parametrize(("caller", "callee", "ingress", "imei", "outcome", "reasons"), CASES)
def test_single_path(caller: str, callee: str, ingress: str, imei: str | None,
                     outcome: Outcome, reasons: tuple[str, ...]) -> None:
    d = _engine().decide(caller, callee, ingress, caller_imei=imei)
    assert (d.outcome, d.reasons) == (outcome, reasons)


def test_batch_path_agrees_with_single_path() -> None:
    engine = _engine()
    got = engine.decide_batch([c[0] for c in CASES], [c[1] for c in CASES],
                              [c[2] for c in CASES], caller_imeis=[c[3] for c in CASES])
    assert [(d.outcome, d.reasons) for d in got] == [(c[4], c[5]) for c in CASES]


def test_list_entries_bar_black_imeis_only() -> None:
    at = datetime(2026, 11, 5, 12)
    entries = [
        ListEntry.new(TargetKind.IMEI, BARRED_PHONE, Colour.BLACK, source=Source.DISPOSAL,
                      reason="device used by a barred number", actor="t", at=at),
        ListEntry.new(TargetKind.IMEI, OTHER_PHONE, Colour.GREY, source=Source.MANUAL,
                      reason="watch", actor="t", at=at),
        ListEntry.new(TargetKind.IMEI, "861234560000037", Colour.BLACK, source=Source.DISPOSAL,
                      reason="expired", actor="t", at=at - timedelta(days=2),
                      expires_at=at - timedelta(days=1)),
    ]
    assert input_from_entries(entries, at=at).barred_imeis == (BARRED_PHONE,)


def test_devices_csv_and_saved_input(tmp_path: Path) -> None:
    csv = tmp_path / "devices.csv"
    csv.write_text(f"imei\n{BARRED_PHONE}\n{OTHER_PHONE}\n{BARRED_PHONE}\n")
    data = input_from_csv(devices=csv)
    assert data.barred_imeis == (BARRED_PHONE, OTHER_PHONE)
    publish(data, tmp_path / "snap")
    assert load_current(tmp_path / "snap").barred_imeis == (BARRED_PHONE, OTHER_PHONE)

    csv.write_text(f"imei\n{BARRED_PHONE}\n12ab\n")
    with pytest.raises(InvalidInput, match="line 3: imei '12ab'"):
        input_from_csv(devices=csv)
