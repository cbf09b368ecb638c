"""The registration check over a real store (SQLite and PostgreSQL) and a real lake folder:
each rule's outcome, the card limit under 50 racing requests, the audit chain, and a raw ID
number that leaves no trace."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog
from tests.conftest import Target
from tests.services.feeds import write_feed

from telshield.domain.errors import Conflict, InvalidInput, NotFound
from telshield.domain.registrations import Decision, Limits, Order
from telshield.services.audit import AuditService
from telshield.services.lakeread import FeedReader
from telshield.services.registrations import RegistrationService
from telshield.services.registry import LakeRegistry
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 9)
ID = "9f" * 32
OTHER = "ab" * 32
SANCTIONED = "cd" * 32
RAW = "11010519491231002X"


def lake(root: Path) -> Path:
    """Two live numbers and one cancelled under ID; one number under a sanctioned person."""
    old = T0 - timedelta(days=200)
    sub = {"imsi": "460001234567890", "holder_kind": "individual", "channel_id": "CH-1",
           "staff_id": "ST-0", "status": "active", "registered_at": old}
    write_feed(root, "subscribers", [
        {**sub, "msisdn": "8613800000001", "id_hash": ID},
        {**sub, "msisdn": "8613800000002", "id_hash": ID, "registered_at": T0 - timedelta(days=3)},
        {**sub, "msisdn": "8613800000003", "id_hash": ID, "status": "cancelled"},
        {**sub, "msisdn": "8613800000004", "id_hash": SANCTIONED},
    ])
    write_feed(root, "sanctions", [
        {"id_hash": SANCTIONED, "starts_at": T0 - timedelta(days=10),
         "ends_at": datetime(2028, 6, 1), "reason": "sold cards", "authority": "Jiangsu PSB"},
    ])
    return root


def service(store: SqlStore, root: Path, clock: FixedClock, **limits: int
            ) -> RegistrationService:
    return RegistrationService(store, clock, LakeRegistry(lambda: FeedReader(root)),
                               Limits(**limits), appeal_channel="call 10086 to appeal")


def ask(s: RegistrationService, msisdn: str, id_hash: str = ID, staff: str = "ST-1",
        terminal: str = "T-1", order: Order = Order()) -> tuple[Decision, list[str]]:
    r = s.check(id_hash=id_hash, holder_kind="individual", channel_id="CH-1", staff_id=staff,
                terminal_id=terminal, msisdn=msisdn, actor="sales-sys", order=order)
    return r.decision, [x.code for x in r.reasons]


def test_allow_shows_held_numbers_masked_and_audits(store: SqlStore, tmp_path: Path,
                                                    clock: FixedClock) -> None:
    s = service(store, lake(tmp_path), clock)
    r = s.check(id_hash=ID, holder_kind="individual", channel_id="CH-1", staff_id="ST-1",
                terminal_id="T-1", msisdn="13800000010", actor="sales-sys")
    assert r.decision is Decision.ALLOW and r.reasons == () and r.appeal_channel == ""
    assert r.held == ("138****0001", "138****0002")  # the cancelled card does not count
    assert s.numbers(ID, actor="sales-sys") == ("138****0001", "138****0002", "138****0010")
    events = AuditService(store).events()
    assert [e.event.action for e in events] == ["registration.check", "registration.numbers"]
    assert events[0].event.subject == f"registration:{r.id}"
    assert events[0].event.detail["decision"] == "allow"
    assert AuditService(store).verify().ok


def test_sanctioned_person_is_refused_with_authority_and_end(
        store: SqlStore, tmp_path: Path, clock: FixedClock) -> None:
    r = service(store, lake(tmp_path), clock).check(
        id_hash=SANCTIONED, holder_kind="individual", channel_id="CH-1", staff_id="ST-1",
        terminal_id="", msisdn="8613800000020", actor="sales-sys")
    assert r.decision is Decision.REFUSE
    assert "Jiangsu PSB" in r.reasons[0].text and "2028-06-01" in r.reasons[0].text
    assert r.appeal_channel == "call 10086 to appeal" and r.held == ("138****0004",)


def test_a_black_id_list_entry_is_a_sanction(store: SqlStore, tmp_path: Path,
                                             clock: FixedClock) -> None:
    from telshield.services.lists import ListService

    s = service(store, lake(tmp_path), clock)
    lists = ListService(store, clock)
    e = lists.add("id_hash", OTHER, "black", source="police", reason="card seller",
                  actor="ann (Nanjing PSB)", police_ordered=True,
                  expires_at=datetime(2027, 3, 1))
    r = s.check(id_hash=OTHER, holder_kind="individual", channel_id="CH-1", staff_id="ST-1",
                terminal_id="", msisdn="8613800000030", actor="sales-sys")
    assert r.decision is Decision.REFUSE and [x.code for x in r.reasons] == ["sanctioned"]
    assert "Nanjing PSB" in r.reasons[0].text and "2027-03-01" in r.reasons[0].text
    lists.lift_police_block(e.id or 0, actor="ann", reason="lifted", release_ref="PSB-R-1")
    assert ask(s, "8613800000030", OTHER) == (Decision.ALLOW, [])


def test_card_limit_counts_lake_and_allowed(store: SqlStore, tmp_path: Path,
                                            clock: FixedClock) -> None:
    s = service(store, lake(tmp_path), clock, cards_per_id=4, cards_30d_verify=99)
    assert ask(s, "8613800000011") == (Decision.ALLOW, [])
    assert ask(s, "8613800000012") == (Decision.ALLOW, [])
    assert ask(s, "8613800000013") == (Decision.REFUSE, ["card_limit"])
    assert ask(s, "8613800000012") == (Decision.ALLOW, [])  # asked again for a held number


def test_a_number_sent_to_verification_is_reserved_until_it_lapses(
        store: SqlStore, tmp_path: Path, clock: FixedClock) -> None:
    s = service(store, lake(tmp_path), clock, cards_per_id=3, cards_30d_verify=1)
    assert ask(s, "8613800000011") == (Decision.VERIFY, ["cards_30d"])
    # The verified card may be issued before the lake shows it: it counts against the limit.
    assert ask(s, "8613800000012") == (Decision.REFUSE, ["card_limit", "cards_30d"])
    clock.advance(days=8)  # never confirmed by the subscribers feed: the reservation lapsed
    assert ask(s, "8613800000012") == (Decision.VERIFY, ["cards_30d"])


def test_velocity(store: SqlStore, tmp_path: Path, clock: FixedClock) -> None:
    s = service(store, lake(tmp_path), clock, cards_30d_verify=2, staff_hour_verify=2,
                staff_hour_refuse=3, terminal_hour_verify=2, terminal_hour_refuse=5,
                order_24h_verify=1)
    # ID already got a card 3 days ago: a second in 30 days is allowed, a third verified.
    assert ask(s, "8613800000011", terminal="") == (Decision.ALLOW, [])
    assert ask(s, "8613800000012", terminal="") == (Decision.VERIFY, ["cards_30d"])
    again = s.check(id_hash=ID, holder_kind="individual", channel_id="CH-1", staff_id="ST-9",
                    terminal_id="", msisdn="8613800000011", actor="sales-sys")
    assert again.reasons[0].text == "3 card(s) under the ID in 30 days"  # 11 counted once
    # ST-1 made 2 checks this hour: the 3rd verifies, the 4th is refused.
    assert ask(s, "8613800000021", OTHER, terminal="") == (Decision.VERIFY, ["staff_bulk"])
    assert ask(s, "8613800000022", OTHER, terminal="") == (Decision.REFUSE, ["staff_bulk"])
    clock.advance(hours=2)
    # Three IDs, three staff IDs, one terminal: the terminal's 3rd this hour verifies.
    assert ask(s, "8613800000023", "03" * 32, staff="ST-2") == (Decision.ALLOW, [])
    assert ask(s, "8613800000024", "04" * 32, staff="ST-3") == (Decision.ALLOW, [])
    assert ask(s, "8613800000025", "05" * 32, staff="ST-4") == (
        Decision.VERIFY, ["terminal_bulk"])
    o = Order.new(order_id="o1", ip="10.0.0.1", address_hash="ee" * 32)
    assert ask(s, "8613800000026", "01" * 32, staff="ST-5", terminal="", order=o) == (
        Decision.ALLOW, [])
    assert ask(s, "8613800000027", "02" * 32, staff="ST-6", terminal="", order=o) == (
        Decision.VERIFY, ["order_address_hash", "order_ip"])


def test_staff_suspension(store: SqlStore, tmp_path: Path, clock: FixedClock) -> None:
    s = service(store, lake(tmp_path), clock)
    s.suspend_staff("ST-1", reason="opened cards for a gang", actor="ann")
    with pytest.raises(Conflict):
        s.suspend_staff("ST-1", reason="again", actor="ann")
    d, codes = ask(s, "8613800000011")
    assert d is Decision.REFUSE and codes == ["staff_suspended"]
    assert [x.staff_id for x in s.suspended_staff()] == ["ST-1"]
    lifted = s.lift_staff("ST-1", reason="cleared by review", actor="bob")
    assert lifted.lifted_by == "bob" and s.suspended_staff() == []
    assert len(s.suspended_staff(include_lifted=True)) == 1
    with pytest.raises(NotFound):
        s.lift_staff("ST-1", reason="x", actor="bob")
    assert ask(s, "8613800000011") == (Decision.ALLOW, [])
    actions = [e.event.action for e in AuditService(store).events()]
    assert actions == ["registration.staff_suspend", "registration.check",
                       "registration.staff_lift", "registration.check"]
    assert AuditService(store).verify().ok


def test_a_raw_id_is_never_stored_or_logged(store: SqlStore, tmp_path: Path, clock: FixedClock,
                                            caplog: pytest.LogCaptureFixture,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    s = service(store, lake(tmp_path), clock)
    with structlog.testing.capture_logs() as logs:
        for raw in (RAW, RAW.lower(), "110105491231002"):
            with pytest.raises(InvalidInput) as e:
                ask(s, "8613800000011", raw)
            assert raw not in str(e.value)
            with pytest.raises(InvalidInput):
                s.numbers(raw, actor="sales-sys")
        ask(s, "8613800000011")  # something is stored, so the search below means something
    engine = store.engine  # type: ignore[attr-defined]
    dumped = []
    with engine.connect() as conn:
        for t in sa.inspect(conn).get_table_names():
            dumped += [json.dumps([str(v) for v in row]) for row in
                       conn.execute(sa.text(f"SELECT * FROM {t}"))]
    text = "\n".join(dumped) + json.dumps(logs, default=str) + caplog.text
    text += "".join(capsys.readouterr())
    assert ID in text  # the hash of the allowed check is there
    for raw in (RAW, RAW.lower(), "110105491231002"):
        assert raw not in text


def _race(s: RegistrationService, n: int) -> list[Decision]:
    out: list[Decision] = []
    lock, start = threading.Lock(), threading.Barrier(n)

    def one(i: int) -> None:
        start.wait()
        d, _ = ask(s, f"86139{i:08d}", staff=f"ST-{i}", terminal="")
        with lock:
            out.append(d)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_card_limit_holds_under_50_racing_requests(db: Target, tmp_path: Path,
                                                   clock: FixedClock) -> None:
    from telshield.store.sql import open_store

    store = open_store(db.url, schema=db.schema)
    try:
        s = service(store, lake(tmp_path), clock, cards_per_id=5, cards_30d_verify=99)
        s.numbers(ID, actor="warm-up")  # build the lake index before the race
        decisions = _race(s, 50)
        assert len(decisions) == 50
        assert decisions.count(Decision.ALLOW) == 5 - 2  # two live cards in the lake
        assert decisions.count(Decision.REFUSE) == 47
        assert len(s.numbers(ID, actor="x")) == 5
        assert AuditService(store).verify().ok
    finally:
        store.dispose()


def test_the_lake_index_is_rebuilt_when_stale(tmp_path: Path) -> None:
    root = lake(tmp_path)
    now = [0.0]
    reg = LakeRegistry(lambda: FeedReader(root), max_age_s=60, monotonic=lambda: now[0])
    assert reg.sanctions(OTHER) == ()
    write_feed(root, "sanctions", [
        {"id_hash": OTHER, "starts_at": T0, "ends_at": datetime(2030, 1, 1), "reason": "r",
         "authority": "PSB"}], name="later")
    now[0] = 59.0
    assert reg.sanctions(OTHER) == ()  # still fresh: no Parquet read per look-up
    now[0] = 60.0
    assert [s.authority for s in reg.sanctions(OTHER)] == ["PSB"]
    assert set(reg.numbers(ID)) == {"8613800000001", "8613800000002", "8613800000003"}
    assert not reg.numbers(ID)["8613800000003"].live


def test_a_sanction_starts_at_its_china_time_not_eight_hours_late(
        store: SqlStore, tmp_path: Path, clock: FixedClock) -> None:
    """The sanctions feed carries China time, the check's clock store time (UTC): a sanction
    written to start at 17:00 in Nanjing is in force at 09:01 UTC."""
    root = tmp_path / "tz"
    write_feed(root, "sanctions", [
        {"id_hash": OTHER, "starts_at": T0 + timedelta(hours=8),  # 17:00 CST = T0 (09:00 UTC)
         "ends_at": datetime(2028, 6, 1), "reason": "sold cards", "authority": "Jiangsu PSB"}])
    write_feed(root, "subscribers", [
        {"imsi": "460001234567890", "holder_kind": "individual", "channel_id": "CH-1",
         "staff_id": "ST-0", "status": "active", "registered_at": T0 - timedelta(days=9),
         "msisdn": "8613800000009", "id_hash": ID}])
    s = service(store, root, clock)
    clock.at = T0 - timedelta(minutes=1)
    assert ask(s, "8613800000040", OTHER)[0] is Decision.ALLOW
    clock.at = T0 + timedelta(minutes=1)
    r = s.check(id_hash=OTHER, holder_kind="individual", channel_id="CH-1", staff_id="ST-1",
                terminal_id="", msisdn="8613800000041", actor="sales-sys")
    assert r.decision is Decision.REFUSE and "until 2028-06-01" in r.reasons[0].text
