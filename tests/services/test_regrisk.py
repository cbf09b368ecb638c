"""The channel / staff / terminal risk ranking, its use in the registration check and the batch
audit, over a real lake folder and a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from tests.services import regrisk_lake as L

from telshield.domain.alerts import Alert, Tier
from telshield.domain.errors import InvalidInput
from telshield.domain.registrations import Decision, Limits
from telshield.domain.regrisk import RiskBy, RiskRow
from telshield.services.lakeread import FeedReader
from telshield.services.regaudit import RegistrationAudit
from telshield.services.registrations import RegistrationService
from telshield.services.registry import MemoryRegistry
from telshield.services.regrisk import RiskIndex, RiskOptions, RiskRanking
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore


def ranking(store: SqlStore, root: Path, clock: FixedClock, min_count: int = 20) -> RiskRanking:
    return RiskRanking(store, clock, lambda: FeedReader(root),
                       RiskOptions(days=365, min_count=min_count))


@pytest.fixture
def lake(store: SqlStore, tmp_path: Path, clock: FixedClock) -> Path:
    L.mark(store, clock)
    return L.build(tmp_path / "lake")


def test_staff_ranking_counts_each_outcome_and_ranks_by_the_lower_bound(
        store: SqlStore, lake: Path, clock: FixedClock) -> None:
    got = ranking(store, lake, clock, min_count=1).ranking(RiskBy.STAFF)
    assert [r.key for r in got] == ["ST-BAD", "ST-ONE", "ST-OK", "ST-X"]
    # b00 is alerted and confirmed: one bad card; clued = 3 from the feed + 2 police blocks.
    assert got[0] == RiskRow("ST-BAD", 24, alerted=6, clued=5, confirmed=1, bad=11)
    assert got[0].lower == pytest.approx(0.2789, abs=1e-4)
    # One card of one, alerted: a raw share of 100% that ranks below 11 of 24.
    assert (got[1].registrations, got[1].bad, got[1].share) == (1, 1, 1.0)
    assert got[1].lower == pytest.approx(0.2065, abs=1e-4)
    assert got[2] == RiskRow("ST-OK", 30, 1, 0, 0, 1)  # the 2024 card is outside the window
    assert got[3] == RiskRow("ST-X", 10, 0, 0, 0, 0)


def test_min_count_window_and_groupings(store: SqlStore, lake: Path, clock: FixedClock
                                        ) -> None:
    r = ranking(store, lake, clock)
    assert [x.key for x in r.ranking(RiskBy.STAFF)] == ["ST-BAD", "ST-OK"]  # 20 or more
    assert [x.registrations for x in r.ranking(RiskBy.STAFF, all_time=True)] == [24, 31]
    assert [x.registrations for x in r.ranking(RiskBy.STAFF, since=datetime(2026, 1, 15))
            ] == [24]  # ST-OK's cards from Jan 15 on: 17, under the minimum
    ch = r.ranking(RiskBy.CHANNEL, min_count=5)
    assert [(x.key, x.registrations, x.bad) for x in ch] == [
        ("CH-A", 25, 12), ("CH-B", 30, 1), ("CH-X", 10, 0)]
    # ST-X registers without a terminal: terminals are ranked only where one was recorded.
    assert [(x.key, x.bad) for x in r.ranking(RiskBy.TERMINAL, min_count=1)] == [
        ("T-A", 12), ("T-B", 1)]
    with pytest.raises(InvalidInput, match="min_count"):
        r.ranking(RiskBy.STAFF, min_count=0)


def test_no_subscribers_feed_ranks_nothing(store: SqlStore, tmp_path: Path,
                                           clock: FixedClock) -> None:
    assert ranking(store, tmp_path, clock, min_count=1).ranking(RiskBy.STAFF) == []


def test_without_clues_feed_or_outcomes(store: SqlStore, tmp_path: Path,
                                        clock: FixedClock) -> None:
    from tests.services.feeds import write_feed

    L.build(tmp_path)
    (tmp_path / "clues" / "part.parquet").unlink()
    got = ranking(store, tmp_path, clock, min_count=1).ranking(RiskBy.STAFF)
    assert {(r.key, r.registrations, r.bad) for r in got} == {
        ("ST-BAD", 24, 0), ("ST-ONE", 1, 0), ("ST-OK", 30, 0), ("ST-X", 10, 0)}
    write_feed(tmp_path, "clues", [{"clue_id": "C-1", "reported_at": datetime(2026, 2, 1),
                                    "msisdn": L.ONE, "case_ref": "", "fraud_type": "investment",
                                    "unit": "PSB"}])
    got = ranking(store, tmp_path, clock, min_count=1).ranking(RiskBy.STAFF)
    assert (got[0].key, got[0].clued, got[0].bad) == ("ST-ONE", 1, 1)


def _ask(s: RegistrationService, channel: str, staff: str, n: int) -> tuple[Decision, list[str],
                                                                              str]:
    r = s.check(id_hash=f"{n:064x}", holder_kind="individual", channel_id=channel,
                staff_id=staff, terminal_id="", msisdn=f"86135000000{n:02d}", actor="sales")
    return r.decision, [x.code for x in r.reasons], " | ".join(x.text for x in r.reasons)


def test_the_check_verifies_risky_channels_and_staff_from_memory(
        store: SqlStore, lake: Path, clock: FixedClock) -> None:
    index = RiskIndex(ranking(store, lake, clock))
    s = RegistrationService(store, clock, MemoryRegistry(),
                            Limits(risk_share_verify=0.2, risk_min_count=20),
                            appeal_channel="call 10086", risk=index)
    decision, codes, text = _ask(s, "CH-A", "ST-BAD", 1)
    assert (decision, codes) == (Decision.VERIFY, ["channel_risk", "staff_risk"])
    assert "12 of 25 registrations by this channel" in text
    assert "11 of 24 registrations by this staff ID" in text and "(46%; at least 28%" in text
    # ST-ONE's one bad card of one is under the minimum count; CH-B's share is low.
    assert _ask(s, "CH-B", "ST-ONE", 2)[:2] == (Decision.ALLOW, [])
    # New alerts on ST-OK's cards change nothing until the ranking is recomputed...
    with store.transaction() as tx:
        tx.alerts.upsert([Alert(L.ok(i), 0.9, Tier.VERIFY, (), clock.now(),
                                datetime(2026, 2, 1)) for i in range(1, 16)])
    assert _ask(s, "CH-B", "ST-OK", 3)[:2] == (Decision.ALLOW, [])
    s.refresh()  # ... as the cycle or an ingest does
    assert _ask(s, "CH-B", "ST-OK", 4)[:2] == (Decision.VERIFY, ["channel_risk", "staff_risk"])


def test_risk_off_by_default(store: SqlStore, lake: Path, clock: FixedClock) -> None:
    s = RegistrationService(store, clock, MemoryRegistry(), Limits(), appeal_channel="x",
                            risk=RiskIndex(ranking(store, lake, clock)))
    assert _ask(s, "CH-A", "ST-BAD", 1)[:2] == (Decision.ALLOW, [])


def test_batch_audit_sections(store: SqlStore, lake: Path, clock: FixedClock) -> None:
    audit = RegistrationAudit(store, lambda: FeedReader(lake), Limits(),
                              ranking(store, lake, clock))
    got = {s.name: s for s in audit.run(datetime(2026, 1, 1), top=2)}
    assert list(got) == ["sanctioned", "over_limit", "bulk_staff", "bulk_terminal",
                         "order_shared", "order_bursts", "risk_channel", "risk_staff",
                         "risk_terminal"]
    sanctioned = got["sanctioned"].rows
    # The card from before the sanction began is not there; the list entry counts as one.
    assert [(r["msisdn"], r["id_hash"]) for r in sanctioned] == [
        ("8613600000001", L.SANCTIONED), ("8613600000003", L.LISTED)]
    assert sanctioned[0]["authority"] == "Jiangsu PSB"
    assert "Nanjing PSB" in sanctioned[1]["authority"]
    assert got["over_limit"].rows == [{
        "id_hash": L.OVER, "numbers": 6, "over_at": datetime(2026, 2, 6, 12),
        "over_msisdn": "8613600000105", "channel_id": "CH-X", "staff_id": "ST-X"}]
    assert [(r["key"], r["hour"], r["registrations"], r["ids"]) for r in got["bulk_staff"].rows
            ] == [("ST-BAD", L.HOUR, 24, 24)]
    assert [(r["key"], r["registrations"]) for r in got["bulk_terminal"].rows] == [("T-A", 25)]
    assert [r["channel_id"] for r in got["bulk_staff"].rows] == ["CH-A"]  # the burst's channel
    assert [(r["attribute"], r["value"], r["orders"], r["ids"])
            for r in got["order_shared"].rows] == [("address_hash", L.ADDRESS, 5, 5)]
    assert [(r["attribute"], r["day"], r["orders"]) for r in got["order_bursts"].rows] == [
        ("address_hash", datetime(2026, 1, 21), 5)]
    assert [r["key"] for r in got["risk_staff"].rows] == ["ST-BAD", "ST-OK"]
    assert got["risk_staff"].rows[0]["rank"] == 1 and got["risk_staff"].rows[0]["bad"] == 11


def test_a_stale_ranking_is_recomputed_in_the_background(
        store: SqlStore, lake: Path, clock: FixedClock) -> None:
    import time

    now = [0.0]
    index = RiskIndex(ranking(store, lake, clock), max_age_s=60, monotonic=lambda: now[0])
    index.warm().join(timeout=60)
    row = index.get(RiskBy.STAFF, "ST-OK")
    assert row is not None and row.bad == 1
    with store.transaction() as tx:
        tx.alerts.upsert([Alert(L.ok(i), 0.9, Tier.VERIFY, (), clock.now(),
                                datetime(2026, 2, 1)) for i in range(1, 16)])
    now[0] = 61.0
    row = index.get(RiskBy.STAFF, "ST-OK")  # the old copy answers at once...
    assert row is not None and row.bad == 1
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # ... while the new one is computed
        row = index.get(RiskBy.STAFF, "ST-OK")
        if row is not None and row.bad == 16:
            break
        time.sleep(0.05)
    assert row is not None and row.bad == 16
