"""The den grouping rules on hand-made port rows (``detect.den_groups.group``): cells join only
as neighbours, judged by the sites around them; two devices on the same cells are two dens; the
audio-cable form of ordinary phones beside relay phones is a den; a den's centre stays under its
serving cell."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from telshield.detect.den_groups import Cell, Near, group, km
from telshield.domain.dens import RELAY, DenProfile

T0 = datetime(2026, 11, 2, 8, 0)
PROFILE = DenProfile()
GOIP_TAC = "86014216"


def _grid(step_deg: float, n: int = 5) -> dict[str, Cell]:
    """An n x n grid of sites ``step_deg`` apart (about 111 km per degree of latitude)."""
    return {f"C{i}{j}": Cell(32.0 + i * step_deg, 118.0 + j * step_deg, "Jiangning")
            for i in range(n) for j in range(n)}


def _port(m: str, imei: str, kind: str | None, cells: Sequence[tuple[str, int]],
          median_s: float = 10.0) -> list[dict[str, Any]]:
    return [{"msisdn": m, "cell": c, "imei": imei, "kind": kind, "calls": n, "answered": n // 3,
             "median_s": median_s, "first_at": T0, "last_at": T0 + timedelta(hours=10)}
            for c, n in cells]


def _hours(ms: Sequence[str]) -> dict[str, set[int]]:
    return {m: {1000, 1001, 1002} for m in ms}


def test_sparse_cells_are_neighbours_by_rank_not_by_a_fixed_distance() -> None:
    sparse = _grid(0.1)  # sites about 11 km apart: rural
    assert km((32.0, 118.0), (32.1, 118.0)) > 10
    near = Near(sparse)
    assert near("C00", "C10") and near("C00", "C11")  # adjacent sites, though 11-16 km apart
    assert not near("C00", "C44")  # across the grid: many sites lie between
    assert not near("C00", "NOT-A-CELL")
    dense = _grid(0.01)  # about 1.1 km apart
    assert Near(dense)("C00", "C02")  # within 3 km: always neighbours
    assert not Near(dense)("C00", "C04")  # 4.4 km with nearer sites between


def test_a_den_on_two_far_apart_neighbour_cells_is_one_den() -> None:
    cells = _grid(0.1)
    rows, sims = [], [f"86150000000{i:02d}" for i in range(8)]
    for i, m in enumerate(sims):
        split = [("C00", 30), ("C10", 10)] if i < 5 else [("C10", 30), ("C00", 10)]
        rows += _port(m, f"{GOIP_TAC}6231{500 + i:03d}", "goip", split)
    found = group(rows, _hours(sims), [], cells, PROFILE)
    assert len(found) == 1 and set(found[0].cells) == {"C00", "C10"}
    assert {m.msisdn for m in found[0].members} == set(sims)
    # the centre is under the serving cell, not halfway to the other site
    c = cells["C00"]  # five of the eight ports are served by it
    assert km((found[0].lat, found[0].lon), (c.lat, c.lon)) < 1.0
    assert found[0].radius_km > 10


def test_two_devices_on_the_same_cells_are_two_dens() -> None:
    cells = _grid(0.01)
    goip = [f"86150000000{i:02d}" for i in range(8)]
    other_goip = [f"86151000000{i:02d}" for i in range(8)]
    forged = [f"86152000000{i:02d}" for i in range(8)]
    rows = []
    for i, m in enumerate(goip):
        rows += _port(m, f"{GOIP_TAC}6231{500 + i:03d}", "goip", [("C00", 40)])
    for i, m in enumerate(other_goip):  # same model, another unit: serials far off
        rows += _port(m, f"{GOIP_TAC}9000{100 + i:03d}", "goip", [("C00", 40)])
    for i, m in enumerate(forged):  # phone-looking TACs, one per port
        rows += _port(m, f"3535{i:04d}7806883{i}", "phone", [("C00", 40)])
    found = group(rows, _hours(goip + other_goip + forged), [], cells, PROFILE)
    assert sorted(sorted(m.msisdn for m in f.members) for f in found) == sorted(
        [sorted(goip), sorted(other_goip), sorted(forged)])


def test_the_audio_cable_form_of_ordinary_phones_is_a_den() -> None:
    cells = _grid(0.01)
    callers = ["8615135939067", "8617803564176", "8614796522153"]
    rows = []
    for i, m in enumerate(callers):  # ordinary phones: no den device, no shared IMEI block
        rows += _port(m, f"35{i}5247880688{i}3", "phone", [("C00", 60), ("C01", 15)],
                      median_s=0.0)
    relays = [{"msisdn": f"861833489103{i}", "cell": "C00", "calls": 20, "first_at": T0,
               "last_at": T0 + timedelta(hours=10)} for i in range(3)]
    found = group(rows, _hours(callers), relays, cells, PROFILE)
    assert len(found) == 1 and found[0].kind == "audio_cable"
    assert "device" not in found[0].evidence["signals"]  # not expected of ordinary phones
    assert {m.msisdn for m in found[0].members if m.role == RELAY} == {
        r["msisdn"] for r in relays}
    # without the relay phones the same three one-way phones are no den
    assert group(rows, _hours(callers), [], cells, PROFILE) == []


def test_relay_phones_do_not_join_a_den_device() -> None:
    cells = _grid(0.01)
    goip = [f"86150000000{i:02d}" for i in range(8)]
    rows = []
    for i, m in enumerate(goip):
        rows += _port(m, f"{GOIP_TAC}6231{500 + i:03d}", "goip", [("C00", 40)])
    relays = [{"msisdn": "8618334891030", "cell": "C00", "calls": 20, "first_at": T0,
               "last_at": T0 + timedelta(hours=10)}]
    found = group(rows, _hours(goip), relays, cells, PROFILE)
    assert len(found) == 1 and found[0].kind == "goip"
    assert {m.msisdn for m in found[0].members} == set(goip)


def test_a_slow_one_way_caller_on_a_den_cell_is_left_out() -> None:
    cells = _grid(0.01)
    forged = [f"86152000000{i:02d}" for i in range(8)]
    rows = []
    for i, m in enumerate(forged):  # 40 calls in 3 hours: 13 an hour
        rows += _port(m, f"3535{i:04d}7806883{i}", "phone", [("C00", 40)])
    rows += _port("8613722220000", "868888000000231", "phone", [("C00", 12)])
    hours = _hours(forged) | {"8613722220000": set(range(1000, 1012))}  # 12 calls, 12 hours
    [den] = group(rows, hours, [], cells, PROFILE)
    assert {m.msisdn for m in den.members} == set(forged)
    assert den.evidence["member_rules"]["slow_callers_left_out"] == 1
    assert den.evidence["member_rules"]["slowest_calls_per_hour"] == round(40 / 3, 2)
    [den] = group(rows, hours, [], cells, replace(PROFILE, min_calls_per_hour=0))
    assert {m.msisdn for m in den.members} == set(forged) | {"8613722220000"}
    assert den.evidence["member_rules"]["slow_callers_left_out"] == 0
