"""A small hand-built lake with one GOIP den and honest look-alikes.

- The den: a GOIP (TAC 86111100, listed as ``goip`` in device_intel) with 8 ports on cell
  ``C-DEN`` (half its SIMs also on the neighbouring ``C-DEN2``), each port's SIM calling 20
  strangers a day in office hours, short calls, nobody calling back; every port's SIM is swapped
  after two days (the new SIM keeps the port's IMEI). Two of its SIMs are ours.
- A call centre: 6 agents' SIMs in one office cell, all day in parallel, long calls to
  customers, a tenth of whom call back.
- A busy shop phone: one number calling 30 customers a day and called by as many.
- A fraud crew's SIM that moves across the province calling strangers (one-way, but no den).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.services.feeds import write_feed

T0 = datetime(2026, 11, 1)
DAYS = 4
CELLS = {  # cell: lat, lon, county
    "C-DEN": (31.9550, 118.8400, "Jiangning"),
    "C-DEN2": (31.9590, 118.8440, "Jiangning"),
    "C-OFFICE": (32.0600, 118.7900, "Xuanwu"),
    "C-SHOP": (32.0400, 118.7800, "Qinhuai"),
    "C-A": (32.3900, 119.4100, "Hanjiang"),
    "C-B": (31.5700, 120.3000, "Liangxi"),
    "C-C": (34.2600, 117.1900, "Gulou"),
}


@dataclass
class DenLake:
    """The rows and who is who."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    den: list[str] = field(default_factory=list)
    den_imeis: list[str] = field(default_factory=list)
    ours: list[str] = field(default_factory=list)
    office: list[str] = field(default_factory=list)
    shop: str = "8613800000001"
    crew: str = "8613800000002"
    _n: int = 0

    def call(self, at: datetime, caller: str, callee: str, *, cell: str | None, imei: str | None,
             duration: int, ingress: str = "radio") -> None:
        self._n += 1
        self.calls.append({"call_id": f"C{self._n:08d}", "started_at": at,
                           "duration_s": duration, "caller": caller, "callee": callee,
                           "ingress": ingress, "caller_cell": cell, "caller_imei": imei,
                           "callee_cell": None})

    def stranger(self) -> str:
        return f"86139{self._n:08d}"


def build() -> DenLake:
    """The lake's rows."""
    lk = DenLake()
    for port in range(8):
        imei = f"861111000001{port:02d}3"
        lk.den_imeis.append(imei)
        for swap in range(2):
            sim = f"86150{port:02d}{swap:06d}" if port >= 1 or swap else "8613700000001"
            sim = "8613700000002" if (port, swap) == (1, 1) else sim
            lk.den.append(sim)
            for day in range(2 * swap, 2 * swap + 2):
                for k in range(20):
                    at = T0 + timedelta(days=day, hours=9 + k // 3, minutes=3 * (k % 3) + port)
                    cell = "C-DEN2" if port % 2 and k % 2 else "C-DEN"
                    lk.call(at, sim, lk.stranger(), cell=cell, imei=imei,
                            duration=20 if k % 2 else 0)
    lk.ours = ["8613700000001", "8613700000002"]
    for agent in range(6):
        sim = f"861380000{agent + 10:04d}"
        lk.office.append(sim)
        for day in range(DAYS):
            for k in range(20):
                at = T0 + timedelta(days=day, hours=9 + k // 3, minutes=5 * (k % 3) + agent)
                customer = lk.stranger()
                lk.call(at, sim, customer, cell="C-OFFICE", imei=f"8622220{agent:07d}1",
                        duration=240)
                if k % 10 == 0:
                    lk.call(at + timedelta(hours=1), customer, sim, cell=None, imei=None,
                            duration=60)
    for day in range(DAYS):
        for k in range(30):
            at = T0 + timedelta(days=day, hours=9, minutes=10 * k)
            customer = lk.stranger()
            lk.call(at, lk.shop, customer, cell="C-SHOP", imei="868888000000011", duration=40)
            lk.call(at + timedelta(minutes=5), f"86135{lk._n:08d}", lk.shop, cell=None,
                    imei=None, duration=30)
    for day in range(DAYS):
        for k in range(15):
            cell = ("C-A", "C-B", "C-C")[k % 3]
            lk.call(T0 + timedelta(days=day, hours=10, minutes=20 * k), lk.crew, lk.stranger(),
                    cell=cell, imei="869999000000021", duration=25)
    return lk


def write(root: Path, lk: DenLake | None = None) -> DenLake:
    """Write the lake (``build``'s, or ``lk`` with rows added) under ``root``; returns who is
    who."""
    lk = lk if lk is not None else build()
    write_feed(root, "calls", lk.calls)
    write_feed(root, "cells", [{"cell_id": c, "lat": la, "lon": lo, "county": co,
                                "city": "Nanjing", "province": "Jiangsu"}
                               for c, (la, lo, co) in CELLS.items()])
    write_feed(root, "device_intel", [
        {"tac": "86111100", "kind": "goip", "vendor": "HYBERTONE", "model": "GoIP-8"},
        {"tac": "86222200", "kind": "deskphone", "vendor": "X", "model": "desk"}])
    subs = lk.ours + lk.office + [lk.shop, lk.crew]
    write_feed(root, "subscribers", [
        {"msisdn": m, "imsi": f"4600{i:011d}", "id_hash": f"{i:064x}",
         "holder_kind": "individual", "registered_at": T0 - timedelta(days=30),
         "channel_id": "CH-X", "staff_id": "ST-X", "status": "active"}
        for i, m in enumerate(subs)])
    return lk
