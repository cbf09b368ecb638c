"""Judging found dens against truth: a den found within a day counts, one found later does not;
location error is to the nearest true cell; recall counts active den numbers only; a found den
mostly made of another den's numbers matches that one."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from telshield.detect.den_groups import Cell
from telshield.domain.dens import Den, DenMember
from telshield.evaluate.dens import judge

T0 = datetime(2026, 11, 1)
CELLS = {"A": Cell(32.0, 118.0, "X"), "B": Cell(32.0, 118.01, "X"), "C": Cell(33.0, 119.0, "Y")}


def den(numbers: list[str], lat: float, lon: float) -> Den:
    ms = tuple(DenMember(msisdn=n, imei="", cell="A", first_at=T0, last_at=T0, calls=1)
               for n in numbers)
    return Den(kind="goip", confidence=1.0, cells=("A",), county="X", lat=lat, lon=lon,
               radius_km=0.3, members=ms, first_seen=T0, last_seen=T0, found_at=T0,
               updated_at=T0, id=1)


def test_judge() -> None:
    truth = [{"den_id": "D1", "kind": "goip", "cell_ids": ["A", "B"], "msisdns": ["1", "2", "3"]},
             {"den_id": "D2", "kind": "goip", "cell_ids": ["C"], "msisdns": ["4", "5"]}]
    found = [den(["1", "2", "9"], 32.0, 118.01), den(["4", "5"], 33.0, 119.009)]
    rep = judge(found, truth, {"D1": T0 + timedelta(hours=5), "D2": T0 + timedelta(hours=30)},
                {"D1": T0, "D2": T0}, active={"1", "2", "4", "5"}, cells=CELLS)
    d1, d2 = rep.per_den
    assert d1.found_after_h == 5 and d1.error_km == pytest.approx(0.0, abs=1e-6)
    assert d2.found_after_h == 30 and d2.error_km == pytest.approx(0.84, abs=0.05)
    assert rep.within_24h == 0.5
    assert rep.recall == 1.0  # "3" never called: not counted
    assert rep.precision == pytest.approx(4 / 5)  # "9" is no den's
