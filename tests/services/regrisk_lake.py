"""A small hand-built lake and store for the risk ranking and the batch audit.

Registrations (feed time, CST), with the store's outcomes (``mark``):

- ST-BAD (CH-A, T-A): 24 cards, 2026-01-20 10:00-10:46; 11 bad: b00-b05 alerted (b00 also
  confirmed), b06-b08 named by the clues feed, b09-b10 police-ordered blocks.
- ST-ONE (CH-A, T-A): 1 card at 10:50, alerted.
- ST-OK (CH-B, T-B): 30 cards (and one in 2024, outside a 365-day window); 1 alerted.
- ST-X (CH-X, no terminal): 10 cards, none bad: a sanctioned person's, a listed person's,
  one ID over the card limit.

Orders: five IDs' orders on 2026-01-21 share one delivery address; two share a device.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.services.feeds import write_feed

from telshield.domain.alerts import Alert, Tier
from telshield.domain.cases import Case, CaseStatus
from telshield.services.lists import ListService
from telshield.services.store import FixedClock, Store

NOW = datetime(2026, 3, 1, 9)  # store time, the clock fixture's
HOUR = datetime(2026, 1, 20, 10)
SANCTIONED = "cd" * 32
LISTED = "ce" * 32
OVER = "aa" * 32
ADDRESS = "ad" * 32


def bad(i: int) -> str:
    """ST-BAD's i-th number."""
    return f"86138000010{i:02d}"


def ok(i: int) -> str:
    """ST-OK's i-th number."""
    return f"86139000020{i:02d}"


ONE = "8613700000300"


def _sub(msisdn: str, staff: str, channel: str, terminal: str, at: datetime,
         id_hash: str = "", status: str = "active") -> dict[str, Any]:
    return {"msisdn": msisdn, "imsi": "460001234567890",
            "id_hash": id_hash or f"{int(msisdn):064x}", "holder_kind": "individual",
            "registered_at": at, "channel_id": channel, "staff_id": staff,
            "terminal_id": terminal or None, "status": status}


def build(root: Path) -> Path:
    """Write the subscribers, clues, sanctions and orders feeds under ``root``."""
    subs = [_sub(bad(i), "ST-BAD", "CH-A", "T-A", HOUR + timedelta(minutes=2 * i))
            for i in range(24)]
    subs.append(_sub(ONE, "ST-ONE", "CH-A", "T-A", HOUR + timedelta(minutes=50)))
    subs += [_sub(ok(i), "ST-OK", "CH-B", "T-B", datetime(2026, 1, 2) + timedelta(hours=5 * i))
             for i in range(30)]
    subs.append(_sub("8613900002099", "ST-OK", "CH-B", "T-B", datetime(2024, 5, 1)))
    x = datetime(2026, 2, 1, 12)
    subs += [
        # Registered while sanctioned (2026-01-01 .. 2027-01-01), and once before it began.
        _sub("8613600000001", "ST-X", "CH-X", "", x, SANCTIONED),
        _sub("8613600000002", "ST-X", "CH-X", "", datetime(2025, 12, 1), SANCTIONED),
        # Registered after a black ID-hash list entry (store time 09:00 UTC = 17:00 CST).
        _sub("8613600000003", "ST-X", "CH-X", "", datetime(2026, 3, 1, 18), LISTED),
    ]
    # Six live cards and one cancelled under OVER: the sixth, on 2026-02-06, broke the limit.
    subs += [_sub(f"86136000001{i:02d}", "ST-X", "CH-X", "", x + timedelta(days=i), OVER,
                  "cancelled" if i == 6 else "active") for i in range(7)]
    write_feed(root, "subscribers", subs)
    write_feed(root, "clues", [
        {"clue_id": f"C-{i}", "reported_at": datetime(2026, 2, 10), "msisdn": bad(i),
         "case_ref": "NJ-1", "fraud_type": "impersonation_police", "unit": "Nanjing PSB"}
        for i in (6, 7, 8)])
    write_feed(root, "sanctions", [
        {"id_hash": SANCTIONED, "starts_at": datetime(2026, 1, 1),
         "ends_at": datetime(2027, 1, 1), "reason": "sold cards", "authority": "Jiangsu PSB"}])
    orders = [{"order_id": f"O-{i}", "created_at": datetime(2026, 1, 21, 9 + i), "channel": "app",
               "id_hash": f"{i + 1:064x}", "msisdn": None, "contact_msisdn": f"861500000000{i}",
               "address_hash": ADDRESS, "ip": f"10.0.0.{i}",
               "device_id": "dev-shared" if i < 2 else f"dev-{i}"} for i in range(5)]
    write_feed(root, "orders", orders)
    return root


def mark(store: Store, clock: FixedClock) -> None:
    """Put the alerts, police-ordered blocks and the confirmed case in the store."""
    at = clock.now()
    alerted = [bad(i) for i in range(6)] + [ONE, ok(0)]
    with store.transaction() as tx:
        tx.alerts.upsert([Alert(m, 0.9, Tier.VERIFY, (), at, datetime(2026, 2, 1))
                          for m in alerted])
        (case,) = tx.cases.add([Case(bad(0), CaseStatus.OPEN, "suspend", at, at)])
        tx.cases.save([replace(case, status=CaseStatus.CONFIRMED)])  # closed as confirmed
    lists = ListService(store, clock)
    for i in (9, 10):
        lists.add("number", bad(i), "black", source="police", reason=f"police order {i}",
                  actor="ann (Nanjing PSB)", police_ordered=True)
    lists.add("id_hash", LISTED, "black", source="police", reason="card seller",
              actor="ann (Nanjing PSB)", police_ordered=True)
