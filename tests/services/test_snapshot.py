"""The snapshot service: the store's lists and cases, the lake's calls, device classes and the
numbering plan become the snapshot the screening faces serve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.cases import Policy
from telshield.domain.clock import feed_epoch
from telshield.screening.engine import Engine, EngineConfig
from telshield.screening.snapshot import Outcome, Snapshot, SnapshotInput
from telshield.services.cases import CaseService
from telshield.services.lakeread import FeedReader
from telshield.services.lists import ListService
from telshield.services.snapshot import SnapshotOptions, SnapshotService
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore

from .feeds import write_feed

AT = datetime(2026, 10, 5, 9)


class Keep:
    """A publisher that keeps what it is given."""

    def __init__(self) -> None:
        self.published: list[SnapshotInput] = []

    def publish(self, data: SnapshotInput) -> str:
        self.published.append(data)
        return data.version


def _alert(n: str, tier: Tier, at: datetime) -> Alert:
    return Alert(n, {"watch": 0.55, "verify": 0.75, "suspend": 0.95}[tier.value], tier,
                 (Reason("rule:test", "test"),), at, at)


def _call(i: int, caller: str, callee: str, hours_before: float, imei: str | None = None
          ) -> dict[str, object]:
    return {"call_id": f"C{i}", "started_at": AT - timedelta(hours=hours_before),
            "duration_s": 30, "caller": caller, "callee": callee, "ingress": "radio",
            "caller_imei": imei}


def test_snapshot_from_lists_cases_and_the_lake(store: SqlStore, tmp_path: Path) -> None:
    clock = FixedClock(AT)
    lists, cases = ListService(store, clock), CaseService(store, clock, Policy())
    police, white, watch, verify, barred, victim, old_victim, nobody = (
        f"86138000000{i:02d}" for i in range(1, 9))
    lists.add("number", police, "black", source="police", reason="clue", actor="police",
              police_ordered=True)
    lists.add("number", police, "white", source="manual", reason="vip", actor="a")
    lists.add("number", white, "white", source="manual", reason="vip", actor="a")
    cases.intake([_alert(watch, Tier.WATCH, AT), _alert(verify, Tier.VERIFY, AT),
                  _alert(barred, Tier.SUSPEND, AT)])
    write_feed(tmp_path, "calls", [
        _call(1, verify, victim, 2), _call(2, nobody, white, 1),
        _call(3, verify, old_victim, 24 * 20),  # before the protection window
        _call(4, verify, nobody, -1),  # after the moment: not seen yet
    ])
    write_feed(tmp_path, "device_intel", [
        {"tac": "86123400", "kind": "goip"}, {"tac": "35000000", "kind": "phone"}])
    keep = Keep()
    svc = SnapshotService(lists, cases, FeedReader(tmp_path), keep, plan=(),
                          options=SnapshotOptions(protect_days=14))
    version = svc.publish(AT)
    (data,) = keep.published
    assert version == data.version and data.as_of == feed_epoch(AT)
    assert data.barred_tacs == (("86123400", "goip"),)
    assert sorted(data.protected.tolist()) == [int(victim)]
    # Numbers under re-verification connected with a warning (the default rejects them), so
    # that victim protection shows on top of the tier's outcome.
    engine = Engine(EngineConfig(tier_outcomes={
        Tier.SUSPEND: Outcome.REJECT, Tier.VERIFY: Outcome.WARN_CALLEE, Tier.WATCH: Outcome.LABEL}))
    engine.swap(Snapshot.build(data))
    now = feed_epoch(AT) + 60

    def decide(caller: str, callee: str = nobody) -> tuple[Outcome, tuple[str, ...]]:
        d = engine.decide(caller, callee, "radio", now)
        return d.outcome, d.reasons

    assert decide(police) == (Outcome.REJECT, ("list:police",))  # police beats the whitelist
    assert decide(white) == (Outcome.ALLOW, ("list:white",))
    assert decide(watch)[0] is Outcome.LABEL
    assert decide(verify)[0] is Outcome.WARN_CALLEE
    assert decide(verify, victim) == (Outcome.WARN_CALLEE, ("warning:verify", "victim:protected"))
    assert decide(verify, old_victim) == (Outcome.WARN_CALLEE, ("warning:verify",))
    assert decide(barred) == (Outcome.REJECT, ("warning:suspend",))  # restricted by policy
    assert decide(nobody)[0] is Outcome.ALLOW
    d = engine.decide(nobody, white, "radio", now, caller_imei="861234001234567")
    assert d.reasons == ("device:goip",)


def test_options_switch_victims_and_device_classes_off(store: SqlStore, tmp_path: Path) -> None:
    clock = FixedClock(AT)
    lists, cases = ListService(store, clock), CaseService(store, clock, Policy())
    cases.intake([_alert("8613800000001", Tier.VERIFY, AT)])
    write_feed(tmp_path, "calls", [_call(1, "8613800000001", "8613800000002", 1)])
    write_feed(tmp_path, "device_intel", [{"tac": "86123400", "kind": "goip"}])
    svc = SnapshotService(lists, cases, FeedReader(tmp_path), Keep(), plan=(),
                          options=SnapshotOptions(protect_victims=False, device_classes=False))
    data = svc.build(AT)
    assert data.protected.size == 0 and data.barred_tacs == ()
    assert data.warned.tolist() == [8613800000001]


def test_an_empty_platform_publishes_an_empty_snapshot(store: SqlStore, tmp_path: Path) -> None:
    clock = FixedClock(AT)
    svc = SnapshotService(ListService(store, clock), CaseService(store, clock, Policy()),
                          FeedReader(tmp_path), Keep(), plan=())
    data = svc.build(AT)
    assert data.list_numbers.size == data.warned.size == data.protected.size == 0
    assert data.barred_tacs == () and data.version.startswith("20261005T090000-")


def test_subscribers_abroad_may_call_home_over_the_international_gateway(
        store: SqlStore, tmp_path: Path) -> None:
    clock = FixedClock(AT)
    away, back, later, stale = "8613800000001", "8613800000002", "8613800000003", "8613800000004"

    def update(n: str, hours: float, event: str) -> dict[str, object]:
        return {"msisdn": n, "at": AT - timedelta(hours=hours), "visited_country": "JP",
                "visited_network": "44010", "event": event}

    write_feed(tmp_path, "roaming", [
        update(away, 30, "attach"),
        update(back, 40, "attach"), update(back, 3, "detach"),
        update(later, -2, "attach"),  # after the moment: not known yet
        update(stale, 24 * 100, "attach"),  # beyond what is read back
    ])
    svc = SnapshotService(ListService(store, clock), CaseService(store, clock, Policy()),
                          FeedReader(tmp_path), Keep(), plan=(),
                          options=SnapshotOptions(roaming_days=90))
    data = svc.build(AT)
    assert data.roaming.tolist() == [int(away)]
    engine = Engine()
    engine.swap(Snapshot.build(data))
    now = feed_epoch(AT) + 60
    home = "8613900000009"
    assert engine.decide(away, home, "international", now).outcome is Outcome.ALLOW
    d = engine.decide(back, home, "international", now)
    assert d.reasons == ("spoof:domestic_via_international",)


def test_ported_numbers_are_checked_against_the_carrier_serving_them_now(
        store: SqlStore, tmp_path: Path) -> None:
    """The ported feed's latest port before the moment says who serves a number: a Unicom
    segment ported to Telecom comes over Telecom's trunk; one ported back is Unicom's again;
    a port after the moment is not known yet."""
    clock = FixedClock(AT)
    moved, back, later = "8618600000001", "8618600000002", "8618600000003"
    ours_out = "8613800000005"  # one of ours (China Mobile) ported to China Telecom

    def port(n: str, days: float, carrier: str) -> dict[str, object]:
        return {"msisdn": n, "carrier": carrier, "ported_at": AT - timedelta(days=days)}

    write_feed(tmp_path, "ported", [
        port(moved, 300, "china_telecom"),
        port(back, 400, "china_telecom"), port(back, 20, "china_unicom"),
        port(later, -1, "china_telecom"),
        port(ours_out, 100, "china_telecom"),
    ])
    svc = SnapshotService(ListService(store, clock), CaseService(store, clock, Policy()),
                          FeedReader(tmp_path), Keep(), plan=())
    data = svc.build(AT)
    assert dict(zip(data.ported.tolist(), data.ported_carriers.tolist(), strict=True)) == {
        int(moved): 3, int(back): 2, int(ours_out): 3}
    engine = Engine()
    engine.swap(Snapshot.build(data))
    now = feed_epoch(AT) + 60

    def reasons(caller: str, carrier: str) -> tuple[str, ...]:
        return engine.decide(caller, "8613900000009", "interconnect", now, carrier=carrier).reasons

    assert reasons(moved, "china_telecom") == ()
    assert reasons(moved, "china_unicom") == ("spoof:wrong_carrier",)
    assert reasons(back, "china_unicom") == ()
    assert reasons(later, "china_telecom") == ("spoof:wrong_carrier",)
    assert reasons(ours_out, "china_telecom") == ()


def test_list_expiry_in_store_time_is_read_at_the_snapshot_moment(
        store: SqlStore, tmp_path: Path) -> None:
    # The snapshot's moment is feed time (China Standard Time, UTC+8); the store keeps UTC. At
    # 12:00 CST (04:00 UTC) an entry expiring at 06:00 UTC has two hours left and one that
    # expired at 03:30 UTC is gone: read as UTC, 12:00 would have dropped both.
    at = datetime(2026, 10, 5, 12)
    clock = FixedClock(datetime(2026, 10, 5, 3))  # an hour before the moment, in UTC
    lists = ListService(store, clock)
    live, gone = "8613800000001", "8613800000002"
    lists.add("number", live, "black", source="manual", reason="t", actor="a",
              expires_at=datetime(2026, 10, 5, 6))
    lists.add("number", gone, "black", source="manual", reason="t", actor="a",
              expires_at=datetime(2026, 10, 5, 3, 30))
    lists.add("prefix", "8617000", "grey", source="manual", reason="t", actor="a",
              expires_at=datetime(2026, 10, 5, 6))
    svc = SnapshotService(lists, CaseService(store, clock, Policy()), FeedReader(tmp_path),
                          Keep(), plan=(), options=SnapshotOptions(protect_victims=False))
    data = svc.build(at)
    assert data.list_numbers.tolist() == [int(live)]
    assert [p for p, *_ in data.list_prefixes] == ["8617000"]
    assert data.as_of == datetime(2026, 10, 5, 4, tzinfo=UTC).timestamp()
