"""A small hand-built lake with two card-trafficking gangs and honest look-alikes.

- Gang A opens at a counter: four openers, three cards each within two days, all at the
  colluding staff ID ``ST-A-01`` (two cards each on day 0, an hour apart from opener to opener,
  and one each on day 1: bulk openings of one staff ID).
- Gang B orders online: four openers, two cards each, the orders sharing a contact number, a
  device and an IP (and one delivery address for half of them).
- A family of four orders to one address (one card each).
- An office of ten orders from one NAT IP (one card each, own addresses and devices).
- A busy staff ID registers sixty honest customers in one day.
- A person with two cards opened half a year apart, and one with two cards in a week.
- A walk-in customer whom the colluding staff ID served on gang A's busy day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.services.feeds import write_feed

T0 = datetime(2026, 10, 1, 10, 0)


def h(label: str) -> str:
    """A stand-in ID or address hash (64 hex digits)."""
    import hashlib

    return hashlib.sha256(label.encode()).hexdigest()


class Lake:
    """Rows of the subscribers and orders feeds, and who is who."""

    def __init__(self) -> None:
        self.subs: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.gang_a: list[str] = []
        self.gang_b: list[str] = []
        self.honest: list[str] = []
        self._n = 0

    def card(self, person: str, at: datetime, *, staff: str = "ST-X-01", channel: str = "CH-X",
             terminal: str = "T-X-1", order: dict[str, str] | None = None) -> str:
        self._n += 1
        msisdn = f"86138{self._n:08d}"
        oid = None
        if order is not None:
            oid = f"O{self._n}"
            self.orders.append({
                "order_id": oid, "created_at": at - timedelta(hours=2), "channel": "app",
                "id_hash": h(person), "msisdn": msisdn,
                "contact_msisdn": order.get("contact", f"86139{self._n:08d}"),
                "address_hash": h(order.get("address", f"addr-{person}")),
                "ip": order.get("ip", f"10.0.{self._n // 250}.{self._n % 250}"),
                "device_id": order.get("device", f"dev-{person}")})
            staff, channel, terminal = "ST-EC-AUTO", "EC-APP", ""
        self.subs.append({
            "msisdn": msisdn, "imsi": f"4600{self._n:011d}", "id_hash": h(person),
            "holder_kind": "individual", "registered_at": at, "channel_id": channel,
            "staff_id": staff, "terminal_id": terminal or None, "order_id": oid,
            "status": "active"})
        return msisdn


def build() -> Lake:
    """The lake's rows."""
    lk = Lake()
    day = timedelta(days=1)
    for o in range(4):
        for k in range(3):
            when = T0 + (k // 2) * day + timedelta(hours=o, minutes=20 * (k % 2))
            lk.gang_a.append(lk.card(f"a-opener-{o}", when, staff="ST-A-01", channel="CH-A",
                                     terminal="T-A-1"))
    for o in range(4):
        for k in range(2):
            order = {"contact": "8613900000099", "device": "dev-gang-b", "ip": "1.2.3.4",
                     **({"address": "gang-b-drop"} if o % 2 else {})}
            lk.gang_b.append(lk.card(f"b-opener-{o}", T0 + 3 * day + timedelta(hours=o + k),
                                     order=order))
    for p in range(4):
        lk.honest.append(lk.card(f"family-{p}", T0 + p * day, order={"address": "family-home"}))
    for p in range(10):
        lk.honest.append(lk.card(f"office-{p}", T0 + timedelta(hours=3 * p),
                                 order={"ip": "9.9.9.9"}))
    for p in range(60):
        lk.honest.append(lk.card(f"busy-{p}", T0 + 2 * day + timedelta(minutes=5 * p),
                                 staff="ST-BUSY", channel="CH-BUSY", terminal="T-BUSY"))
    lk.honest.append(lk.card("two-cards", T0 - 180 * day))
    lk.honest.append(lk.card("two-cards", T0))
    lk.honest.append(lk.card("week", T0))
    lk.honest.append(lk.card("week", T0 + 5 * day))
    # A walk-in customer served by the colluding staff ID on the gang's busy day.
    lk.honest.append(lk.card("walk-in", T0 + timedelta(minutes=30), staff="ST-A-01",
                             channel="CH-A", terminal="T-A-1"))
    return lk


def write(root: Path) -> Lake:
    """Write the lake under ``root``; return who is who."""
    lk = build()
    write_feed(root, "subscribers", lk.subs)
    write_feed(root, "orders", lk.orders)
    return lk
