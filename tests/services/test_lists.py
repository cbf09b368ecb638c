"""List management on a real store: versions, CSV import/export with per-row errors, expiry,
the effective entry, and the snapshot source at any version with diffs."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from telshield.domain.errors import Conflict, Forbidden, InvalidInput
from telshield.services.audit import AuditService
from telshield.services.lists import ListService
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore

CSV = """kind,value,value_end,colour,source,reason,expires_at,police_ordered
number,8613800000001,,black,detection,fraud calls,,
prefix,86170,,grey,manual,virtual operator segment,,
range,8613900000000,8613900000099,white,partner,bank hotline block,,
number,8613800000002,,black,police,police order,2026-03-02 09:00:00,true
number,12,,black,manual,too short,,
imei,123,,black,manual,bad imei,,
number,8613800000003,,blue,manual,no such colour,,
number,8613800000004,,black,manual,,,
number,8613800000005,,black,manual,bad expiry,tomorrow,
"""


@pytest.fixture
def lists(store: SqlStore, clock: FixedClock) -> ListService:
    return ListService(store, clock)


def test_import_reports_each_bad_row(lists: ListService) -> None:
    report = lists.import_csv(io.StringIO(CSV), actor="ann")
    assert report.added == 4 and report.version == 1
    assert [line for line, _ in report.errors] == [6, 7, 8, 9, 10]
    assert "colour" in report.errors[2][1] and "reason" in report.errors[3][1]
    assert "YYYY-MM-DD" in report.errors[4][1]


def test_import_reports_non_canonical_and_too_wide_rows(store: SqlStore, clock: FixedClock
                                                         ) -> None:
    bounded = ListService(store, clock, white_min_digits=7)
    csv = ("kind,value,value_end,colour,reason\n"
           "number,+8613800000002,,black,spelt with a plus\n"
           "number,08613800000002,,white,spelt with a trunk 0\n"
           "prefix,86,,white,the whole country\n"
           "prefix,8613800,,white,a bank's block\n")
    report = bounded.import_csv(io.StringIO(csv), actor="ann")
    assert report.added == 1 and [line for line, _ in report.errors] == [2, 3, 4]
    assert "write 8613800000002" in report.errors[0][1]
    assert "canonical" in report.errors[1][1] and "white_min_digits" in report.errors[2][1]
    admin = bounded.import_csv(io.StringIO(csv), actor="admin", wide_ok=True)
    assert (admin.added, admin.already) == (1, 1)  # the bank's block is listed already


def test_police_blocks_are_lifted_only_under_a_release(lists: ListService) -> None:
    n = "8613800000002"
    e = lists.add("number", n, "black", source="police", reason="order 17", actor="cop",
                  police_ordered=True)
    assert e.id is not None
    with pytest.raises(Forbidden, match="police-blocks"):
        lists.remove(e.id, actor="ann", reason="mistake")
    with pytest.raises(InvalidInput, match="release_ref"):
        lists.lift_police_block(e.id, actor="cop", reason="closed", release_ref=" ")
    lists.lift_police_block(e.id, actor="cop", reason="closed", release_ref="R-9")
    assert lists.decide(n) is None
    other = lists.add("number", n, "black", source="manual", reason="fraud", actor="ann")
    assert other.id is not None
    with pytest.raises(Conflict):
        lists.lift_police_block(other.id, actor="cop", reason="closed", release_ref="R-9")


def test_import_refuses_a_file_without_the_columns(lists: ListService) -> None:
    with pytest.raises(InvalidInput, match="header"):
        lists.import_csv(io.StringIO("number\n8613800000001\n"), actor="ann")


def test_export_round_trips(lists: ListService) -> None:
    lists.import_csv(io.StringIO(CSV), actor="ann")
    out = io.StringIO()
    assert lists.export_csv(out) == 4
    again = lists.import_csv(io.StringIO(out.getvalue()), actor="ann")
    # Every exported row reads back as the very entry it came from: all listed already.
    assert (again.added, again.already, again.errors) == (0, 4, ())


def test_precedence_and_expiry(lists: ListService, clock: FixedClock) -> None:
    n = "8613800000002"
    lists.add("number", n, "black", source="detection", reason="fraud", actor="ann")
    lists.add("prefix", "861380", "white", source="manual", reason="VIP", actor="ann")
    assert lists.decide(n).colour.value == "white"
    lists.add("number", n, "black", source="police", reason="order 17", actor="cop",
              police_ordered=True, expires_at=clock.at + timedelta(days=1))
    assert lists.decide(n).police_ordered
    clock.advance(days=2)
    assert lists.decide(n).colour.value == "white"
    v = lists.expire(actor="cron")
    assert v == 4 and lists.expire() is None
    assert [e.source.value for e in lists.find(value=n)] == ["detection"]


def test_snapshot_at_versions_and_diff(lists: ListService, store: SqlStore) -> None:
    a = lists.add("number", "8613800000001", "black", source="manual", reason="r", actor="ann")
    lists.add("number", "8613800000002", "white", source="manual", reason="r", actor="ann")
    v3 = lists.remove(a.id or 0, actor="ann", reason="mistake")
    with pytest.raises(InvalidInput, match="already"):
        lists.remove(a.id or 0, actor="ann", reason="again")
    lists.add("imei", "123456789012345", "black", source="manual", reason="goip", actor="ann")
    assert lists.current_version() == 4
    assert lists.snapshot_columns(2)["value"] == ["8613800000001", "8613800000002"]
    cols = lists.snapshot_columns()
    assert cols["value"] == ["8613800000002", "123456789012345"]
    assert cols["kind"] == ["number", "imei"] and cols["police_ordered"] == [False, False]
    d = lists.diff(2, 4)
    assert [e.value for e in d.added] == ["123456789012345"]
    assert [e.value for e in d.removed] == ["8613800000001"]
    assert v3 == 3
    events = AuditService(store).events()
    assert [e.event.action for e in events] == ["list.add", "list.add", "list.remove", "list.add"]
    assert AuditService(store).verify().ok


def test_number_columns_for_the_snapshot(lists: ListService, clock: FixedClock) -> None:
    lists.add("number", "8613800000001", "black", source="detection", reason="r", actor="a")
    lists.add("number", "8613800000001", "white", source="manual", reason="r", actor="a")
    lists.add("number", "8613800000002", "black", source="police", reason="order", actor="a",
              police_ordered=True, expires_at=clock.at + timedelta(hours=1))
    lists.add("prefix", "86170", "grey", source="manual", reason="r", actor="a")
    cols = lists.number_columns()
    assert cols.version == 4 and cols.numbers.tolist() == [8613800000001] * 2 + [8613800000002]
    assert cols.colours.tolist() == [1, 2, 1] and cols.police.tolist() == [False, False, True]
    assert [e.value for e in cols.others] == ["86170"]
    assert lists.number_columns(1).numbers.tolist() == [8613800000001]
    later = lists.number_columns(at=clock.at + timedelta(hours=2))
    assert later.numbers.tolist() == [8613800000001] * 2  # the police order has expired


def test_the_enterprise_whitelist_keeps_owner_and_expiry(
    lists: ListService, store: SqlStore, clock: FixedClock
) -> None:
    office, card, other = "8613800000010", "8613900000055", "8613800000020"
    term = clock.at + timedelta(days=30)
    lists.add("range", "8613800000000", "white", value_end="8613800000019", source="manual",
              reason="registered telemarketing numbers, filing 2026-118", actor="ann",
              owner="Sunrise Telemarketing", expires_at=term)
    lists.add("number", card, "white", source="partner", reason="industry card", actor="ann",
              owner="Yangtze Logistics", expires_at=clock.at + timedelta(days=365))
    lists.add("number", other, "white", source="manual", reason="VIP", actor="ann")
    # Stored with the owner, shown soonest to expire first, and audited with it.
    assert [(e.owner, e.expires_at) for e in lists.enterprise()] == [
        ("Sunrise Telemarketing", term), ("Yangtze Logistics", clock.at + timedelta(days=365))]
    assert lists.decide(office).owner == "Sunrise Telemarketing"
    event = AuditService(store).events()[0].event
    assert event.detail["owner"] == "Sunrise Telemarketing"
    # The cap detection asks for: the owner's entry for each number it covers, none for a
    # plain white entry or an unlisted number.
    got = lists.whitelisted([office, card, other, "8613800000099"], clock.at)
    assert {n: e.owner for n, e in got.items()} == {office: "Sunrise Telemarketing",
                                                    card: "Yangtze Logistics"}
    # A police-ordered block on the card lifts its cap; the registration's expiry lifts the
    # office's, even before `lists expire` removes it.
    lists.add("number", card, "black", source="police", reason="order 9", actor="cop",
              police_ordered=True)
    assert set(lists.whitelisted([office, card], clock.at)) == {office}
    assert lists.whitelisted([office, card], term) == {}


def test_an_owner_travels_through_csv(lists: ListService, clock: FixedClock) -> None:
    text = ("kind,value,value_end,colour,source,reason,expires_at,police_ordered,owner\n"
            "number,8613800000010,,white,manual,industry card,2027-01-01 00:00:00,,Acme Ltd\n"
            "number,8613800000011,,white,manual,no term,,,Acme Ltd\n"
            "number,8613800000012,,black,manual,black,2027-01-01 00:00:00,,Acme Ltd\n")
    report = lists.import_csv(io.StringIO(text), actor="ann")
    assert report.added == 1 and [line for line, _ in report.errors] == [3, 4]
    assert "expiry" in report.errors[0][1] and "white" in report.errors[1][1]
    out = io.StringIO()
    lists.export_csv(out)
    assert out.getvalue().splitlines()[1].endswith(",Acme Ltd")
    back = lists.import_csv(io.StringIO(out.getvalue()), actor="ann")
    assert (back.added, back.already) == (0, 1)  # owner and expiry read back the same
    assert [e.owner for e in lists.enterprise()] == ["Acme Ltd"]


def test_an_import_run_twice_adds_nothing_the_second_time(lists: ListService,
                                                          store: SqlStore) -> None:
    first = lists.import_csv(io.StringIO(CSV), actor="ann")
    again = lists.import_csv(io.StringIO(CSV), actor="ann")  # a re-run after an unclear crash
    assert (again.added, again.already, again.version) == (0, 4, None)
    assert lists.current_version() == first.version  # no empty version either
    # A file with one new row and a row repeated within it adds the new row once.
    more = CSV.splitlines()[0] + "\nnumber,8613800000009,,black,manual,new,,\n" \
        "number,8613800000009,,black,manual,new again,,\n" + "\n".join(CSV.splitlines()[1:3])
    r = lists.import_csv(io.StringIO(more), actor="ann")
    assert (r.added, r.already) == (1, 3)
    live = [e.value for batch in lists.entries_at() for e in batch]
    assert len(live) == len(set(live)) == 5


def test_an_entry_edited_in_the_database_breaks_its_imports_hash(lists: ListService,
                                                                 store: SqlStore) -> None:
    import sqlalchemy as sa

    from telshield.store.tables import list_entries

    report = lists.import_csv(io.StringIO(CSV), actor="ann")
    assert lists.verify_imports() == []
    with store.engine.begin() as c:
        c.execute(sa.update(list_entries).where(list_entries.c.value == "8613800000001")
                  .values(colour="white"))
    (bad,) = lists.verify_imports()
    assert bad.version == report.version and bad.found != bad.recorded
    event = AuditService(store).events(limit=10)[-1].event
    assert event.detail["content_sha256"] == bad.recorded and event.detail["already"] == 0
