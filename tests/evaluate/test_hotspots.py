"""The hotspot judge: a den alerted in its county within a day counts, one alerted later does
not, an alert in a county without a den is a false hotspot, counted once per hotspot record."""

from __future__ import annotations

from datetime import datetime, timedelta

from telshield.domain.hotspots import Hotspot
from telshield.evaluate.hotspots import Den, judge

T = datetime(2026, 11, 1, 7)


def _h(id: int, region: str, end: datetime) -> Hotspot:
    return Hotspot(region=region, city="", county="", lat=0.0, lon=0.0,
                   window_start=end - timedelta(hours=6), window_end=end, observed=5,
                   expected=0.1, p_value=0.001, llr=9.0, numbers=(), found_at=end,
                   updated_at=end, id=id)


def test_caught_late_and_false() -> None:
    dens = [Den("DEN-0001", "Nanjing/Liuhe", T, T + timedelta(days=5), 20),
            Den("DEN-0002", "Nantong/Chongchuan", T, T + timedelta(days=5), 4)]
    runs = [[_h(1, "Nanjing/Liuhe", T + timedelta(hours=5))],
            [_h(1, "Nanjing/Liuhe", T + timedelta(hours=11)),
             _h(2, "Suzhou/Gusu", T + timedelta(hours=11))],
            [_h(3, "Nantong/Chongchuan", T + timedelta(hours=30)),
             _h(2, "Suzhou/Gusu", T + timedelta(hours=17))]]
    rep = judge(runs, dens, days=14)
    assert [(r.den.den_id, r.in_time) for r in rep.dens] == [("DEN-0001", True),
                                                             ("DEN-0002", False)]
    assert rep.dens[0].delay_h == 5.0 and rep.caught_share == 0.5
    assert rep.hotspots == 3 and rep.false_hotspots == ("Suzhou/Gusu",)
    assert rep.false_per_week == 0.5
