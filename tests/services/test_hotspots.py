"""Hotspots on a hand-built lake, on SQLite and PostgreSQL: the county where a den of
out-of-province numbers starts is alerted with its numbers, map position and p-value; a county
with a high but stable baseline and one with honest travellers are not; scanning again updates
the same hotspot; the operating cycle's step counts its alerts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from tests.services.hotspotlake import UNTIL, Lake, write

from telshield.domain.errors import InvalidInput, NotFound
from telshield.reference.numbering import load_plan_table
from telshield.services.hotspots import HotspotService, ScanParams
from telshield.services.lakeread import FeedReader
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore


@pytest.fixture(scope="session")
def plan(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    return load_plan_table(tmp_path_factory.mktemp("plan"))


@pytest.fixture
def lake(tmp_path: Path) -> tuple[Path, Lake]:
    root = tmp_path / "lake"
    return root, write(root)


def _svc(store: SqlStore, clock: FixedClock, root: Path, plan: pa.Table,
         min_numbers: int = 3) -> HotspotService:
    return HotspotService(store, clock, FeedReader(root),
                          ScanParams(replicates=199, min_numbers=min_numbers), plan=lambda: plan)


def test_den_county_alerted_stable_and_honest_not(store: SqlStore, clock: FixedClock,
                                                  lake: tuple[Path, Lake], plan: pa.Table
                                                  ) -> None:
    root, lk = lake
    svc = _svc(store, clock, root, plan)
    r = svc.find(actor="ann", until=UNTIL)
    assert r.suspects == len(lk.den) + len(lk.stable)  # travellers are not suspicious
    assert [h.region for h in r.hotspots] == ["Nanjing/Liuhe"] and r.new == 1
    h = svc.get(int(r.hotspots[0].id or 0))
    assert set(h.numbers) == set(lk.den)
    assert (h.city, h.county) == ("Nanjing", "Liuhe")
    assert h.lat == pytest.approx(32.33)  # the mean of its three cells
    assert h.lon == pytest.approx(118.83)
    assert h.window_end == UNTIL and h.window_start == UNTIL - timedelta(hours=12)
    assert h.observed == 16 and h.factor > 10 and h.p_value <= 0.01
    with store.transaction(write=False) as tx:
        events = [e.event for e in tx.audit.read()]
    assert [(e.action, e.subject) for e in events] == [("hotspot.found", f"hotspot:{h.id}")]
    # Listed for the analyst, latest first, by county.
    assert [x.id for x in svc.list()] == [h.id]
    assert svc.list(region="Suzhou/Kunshan") == []


def test_scanning_again_updates_the_same_hotspot(store: SqlStore, clock: FixedClock,
                                                 lake: tuple[Path, Lake], plan: pa.Table
                                                 ) -> None:
    root, _ = lake
    svc = _svc(store, clock, root, plan)
    first = svc.find(actor="ann", until=UNTIL - timedelta(hours=1)).hotspots[0]
    again = svc.find(actor="ann", until=UNTIL)
    assert again.new == 0 and [h.id for h in again.hotspots] == [first.id]
    assert len(svc.list()) == 1
    with store.transaction(write=False) as tx:
        actions = [e.event.action for e in tx.audit.read()]
    assert actions == ["hotspot.found", "hotspot.update"]


def test_stricter_settings_silence_it(store: SqlStore, clock: FixedClock,
                                      lake: tuple[Path, Lake], plan: pa.Table) -> None:
    root, _ = lake
    assert _svc(store, clock, root, plan, min_numbers=9).find(actor="a", until=UNTIL).hotspots \
        == ()


def test_errors_name_what_to_do(store: SqlStore, clock: FixedClock, lake: tuple[Path, Lake],
                                tmp_path: Path) -> None:
    root, _ = lake
    with pytest.raises(InvalidInput, match="numbering plan"):
        HotspotService(store, clock, FeedReader(root), ScanParams()).find(actor="a")
    with pytest.raises(InvalidInput, match="bucket_hours"):
        ScanParams(bucket_hours=5, scan_hours=24)
    with pytest.raises(NotFound, match="hotspots list"):
        HotspotService(store, clock, FeedReader(root), ScanParams()).get(7)


def test_the_cycle_step_scans_at_the_tick(store: SqlStore, tmp_path: Path, plan: pa.Table
                                          ) -> None:
    from tests.services.test_cycle import _rig

    rig = _rig(store, tmp_path)
    write(tmp_path / "hlake")
    svc = _svc(store, rig.clock, tmp_path / "hlake", plan)
    rig.cycle.hotspots = lambda at: len(svc.find(actor="cycle", until=at).hotspots)
    rig.clock.at = UNTIL
    r = rig.cycle.tick(UNTIL, detect=False)
    assert r.complete and r.hotspots == 1
    assert list(r.seconds) == ["clues", "escalate", "detect", "devices", "publish", "hotspots"]
    assert [h.region for h in svc.list()] == ["Nanjing/Liuhe"]


def test_the_cycle_wiring_follows_the_setting(tmp_path: Path, plan: pa.Table) -> None:
    import pyarrow.parquet as pq

    from telshield.reference.numbering import plan_path
    from telshield.settings import HotspotSettings, Settings
    from telshield.wiring import disposal
    from telshield.wiring.cycle import hotspot_scan

    write(tmp_path / "lake")
    plan_path(tmp_path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(plan, plan_path(tmp_path))
    off = Settings(data_dir=tmp_path)
    d = disposal(off)
    assert hotspot_scan(off, d, tmp_path / "lake") is None
    on = Settings(data_dir=tmp_path, hotspots=HotspotSettings(in_cycle=True, replicates=199))
    scan = hotspot_scan(on, d, tmp_path / "lake")
    assert scan is not None and scan(UNTIL) == 1
    with d.store.transaction(write=False) as tx:
        assert [h.region for h in tx.hotspots.find()] == ["Nanjing/Liuhe"]
