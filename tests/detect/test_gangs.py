"""The registration graph: which cards are linked, by what, and how rarity weighs a link; the
community core that keeps weakly tied cards out of a gang; and the annex that joins a gang's
parts that Leiden cut apart."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import ibis
import pytest
from tests.services.ganglake import Lake, write

from telshield.detect.communities import Card, annex, core
from telshield.detect.gangs import KIND_WEIGHTS, registration_links
from telshield.domain.gangs import GangLink, LinkKind
from telshield.services.lakeread import FeedReader

SINCE, UNTIL = datetime(2026, 1, 1), datetime(2027, 1, 1)


@pytest.fixture
def links(tmp_path: Path) -> tuple[dict[frozenset[str], tuple[float, set[str]]], Lake]:
    lk = write(tmp_path)
    r = FeedReader(tmp_path)
    e = registration_links(r.table("subscribers"), r.table("orders"), None, since=SINCE,
                           until=UNTIL)
    rows = e.to_pyarrow().to_pylist()
    assert all(x["a"] < x["b"] for x in rows)
    return {frozenset((x["a"], x["b"])): (x["weight"], set(x["kinds"])) for x in rows}, lk


def test_links_by_shared_attribute(links: tuple[dict[frozenset[str], tuple[float, set[str]]],
                                                Lake]) -> None:
    got, lk = links
    a = lk.gang_a
    weight, kinds = got[frozenset((a[0], a[1]))]  # one opener's two cards, same hour, same staff
    assert kinds == {LinkKind.ID, LinkKind.STAFF, LinkKind.TERMINAL}
    # ID: 3 cards share it (2/3 of its weight); the day-0 staff burst: 8 cards (+ the walk-in).
    assert weight == pytest.approx(KIND_WEIGHTS[LinkKind.ID] * 2 / 3
                                   + 2 * KIND_WEIGHTS[LinkKind.STAFF] * 2 / 9)
    b = lk.gang_b
    assert {LinkKind.CONTACT, LinkKind.DEVICE, LinkKind.IP} <= got[frozenset((b[0], b[2]))][1]


def test_common_and_distant_values_link_nothing(
        links: tuple[dict[frozenset[str], tuple[float, set[str]]], Lake]) -> None:
    got, lk = links
    busy = lk.honest[14:74]  # sixty customers of one staff ID in a day: more than max_group
    assert not any(frozenset((x, y)) in got for x in busy for y in busy)
    two = lk.honest[74:76]  # one person's cards half a year apart: not a bulk opening
    assert frozenset(two) not in got
    week = lk.honest[76:78]
    assert got[frozenset(week)][1] == {LinkKind.ID}
    office = lk.honest[4:14]  # ten orders from one NAT: linked, but weakly
    w, kinds = got[frozenset(office[:2])]
    assert kinds == {LinkKind.IP} and w == pytest.approx(KIND_WEIGHTS[LinkKind.IP] * 2 / 10)


def test_the_core_keeps_strong_ties_and_bursts_between_groups() -> None:
    def link(a: str, b: str, *kinds: LinkKind) -> GangLink:
        return GangLink(a, b, tuple(sorted(k.value for k in kinds)), 1.0)

    links = [link("a1", "a2", LinkKind.ID), link("a2", "b1", LinkKind.ADDRESS),
             link("b1", "b2", LinkKind.ID),
             link("c1", "c2", LinkKind.ID), link("c1", "a1", LinkKind.STAFF),  # counter opener
             link("d1", "d2", LinkKind.ID), link("d1", "c2", LinkKind.TERMINAL),  # two hops
             link("e1", "e2", LinkKind.ID), link("e1", "a1", LinkKind.IMEI),  # a phone only
             link("w", "a1", LinkKind.STAFF)]  # a walk-in customer on a busy day
    names = {x for y in links for x in (y.a, y.b)}
    assert core(names, links) == {"a1", "a2", "b1", "b2", "c1", "c2", "d1", "d2"}
    assert core({"w", "a1"}, [links[-1]]) == set()


def test_imei_links_cards_first_used_in_one_phone() -> None:
    subs = ibis.memtable({
        "msisdn": ["1", "2", "3"], "id_hash": ["x", "y", "z"],
        "holder_kind": ["individual"] * 3, "channel_id": ["C"] * 3, "staff_id": ["S1", "S2", "S3"],
        "terminal_id": ["T1", "T2", "T3"], "order_id": [None, None, None],
        "registered_at": [datetime(2026, 3, d) for d in (1, 10, 20)]},
        schema={"msisdn": "string", "id_hash": "string", "holder_kind": "string",
                "channel_id": "string", "staff_id": "string", "terminal_id": "string",
                "order_id": "string", "registered_at": "timestamp"})
    orders = ibis.memtable({"order_id": [], "address_hash": [], "contact_msisdn": [],
                            "device_id": [], "ip": []},
                           schema={c: "string" for c in ("order_id", "address_hash",
                                                         "contact_msisdn", "device_id", "ip")})
    calls = ibis.memtable({
        "caller": ["1", "1", "2", "3"], "caller_imei": ["P", "Q", "P", "Q"],
        "started_at": [datetime(2026, 4, 1), datetime(2026, 4, 2), datetime(2026, 4, 3),
                       datetime(2026, 4, 1)]})
    e = registration_links(subs, orders, calls, since=SINCE, until=UNTIL).to_pyarrow()
    assert [(r["a"], r["b"], r["kinds"]) for r in e.to_pylist()] == [("1", "2", ["imei"])]


@pytest.mark.spark
def test_same_links_on_spark_and_duckdb(tmp_path: Path) -> None:
    """The one definition links the same cards, by the same kinds, on PySpark local."""
    import os

    pyspark_sql = pytest.importorskip("pyspark.sql")
    write(tmp_path)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]").appName("telshield-test")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC").config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )

    def run(con: ibis.BaseBackend) -> dict[tuple[str, str], tuple[float, tuple[str, ...]]]:
        # Read from the Parquet files on both engines (a pandas memtable would turn the
        # missing order ids of counter cards into something other than null on Spark).
        subs = con.read_parquet(str(tmp_path / "subscribers" / "part.parquet"))
        orders = con.read_parquet(str(tmp_path / "orders" / "part.parquet"))
        e = registration_links(subs, orders, None, since=SINCE, until=UNTIL)
        df = con.execute(e)
        return {(r.a, r.b): (round(float(r.weight), 9), tuple(sorted(r.kinds)))
                for r in df.itertuples()}

    try:
        duck = run(ibis.duckdb.connect())
        spark = run(ibis.pyspark.connect(session))
    finally:
        session.stop()
    assert len(duck) > 50 and duck == spark


def _card(msisdn: str, store: str, *, online: bool = False) -> Card:
    """A card of ID ``msisdn[0]`` opened at ``store``'s counter (or online, at no store)."""
    return Card(msisdn=msisdn, id_hash=msisdn[0], channel_id="EC-APP" if online else store,
                staff_id="ST-EC-AUTO" if online else f"ST-{store}", by_order=online,
                registered_at=datetime(2026, 10, 1))


def _link(a: str, b: str, *kinds: LinkKind) -> GangLink:
    return GangLink(a, b, tuple(sorted(k.value for k in kinds)), 1.0)


def test_the_core_keeps_burst_groups_opened_at_its_stores_only() -> None:
    cards = {c.msisdn: c for c in [
        _card("a1", "S1"), _card("a2", "S2", online=True), _card("a3", "S2"),  # the anchor
        _card("b1", "S1"), _card("b2", "S2"),  # an opener sent to the gang's stores
        _card("h1", "S1"), _card("h2", "S9"),  # an honest customer's second card elsewhere
        _card("k1", "S1"), _card("k2", "S1", online=True), _card("k3", "S1", online=True)]}
    links = [_link("a1", "a2", LinkKind.ID), _link("a2", "a3", LinkKind.ID),
             _link("b1", "b2", LinkKind.ID), _link("b1", "a1", LinkKind.STAFF),
             _link("h1", "h2", LinkKind.ID), _link("h1", "a1", LinkKind.STAFF),
             _link("k1", "k2", LinkKind.ID), _link("k2", "k3", LinkKind.ADDRESS),
             _link("k1", "a1", LinkKind.STAFF)]  # mostly online: one card of three at a store
    assert core(cards, links, cards) == {"a1", "a2", "a3", "b1", "b2"}
    assert core(cards, links) == set(cards)  # without the cards, no store test


def test_annex_joins_a_gangs_parts_that_met_at_its_stores() -> None:
    gang = ["a1", "a2", "a3", "a4"]  # found: two openers at stores S1 and S2
    cut = ["c1", "c2", "d1", "d2"]  # a smaller found gang at the same stores
    other = ["e1", "e2", "f1", "f2"]  # another gang: one shared store (S2), its own S7
    cards = {c.msisdn: c for c in [
        _card("a1", "S1"), _card("a2", "S2"), _card("a3", "S1"), _card("a4", "S2"),
        _card("b1", "S2"), _card("b2", "S2"),  # an opener Leiden left outside, met at S2
        _card("g1", "S1"), _card("g2", "S1"),  # an opener met only through b's burst
        _card("c1", "S1"), _card("c2", "S1"), _card("d1", "S2"), _card("d2", "S1"),
        _card("e1", "S7"), _card("e2", "S7"), _card("f1", "S2"), _card("f2", "S7"),
        _card("h1", "S1"), _card("h2", "S9"),  # an honest customer, served once at S1
        _card("w1", "S1"), _card("w2", "S1"),  # reached only through the honest customer
    ]}
    links = [_link("a1", "a2", LinkKind.ID), _link("a3", "a4", LinkKind.ID),
             _link("a1", "a3", LinkKind.STAFF),
             _link("b1", "b2", LinkKind.ID), _link("b1", "a2", LinkKind.TERMINAL),
             _link("g1", "g2", LinkKind.ID), _link("g1", "b2", LinkKind.STAFF),
             _link("c1", "c2", LinkKind.ID), _link("d1", "d2", LinkKind.ID),
             _link("c1", "d1", LinkKind.STAFF), _link("c2", "a3", LinkKind.STAFF),
             _link("e1", "e2", LinkKind.ID), _link("f1", "f2", LinkKind.ID),
             _link("e1", "f1", LinkKind.STAFF), _link("f1", "a4", LinkKind.STAFF),
             _link("h1", "h2", LinkKind.ID), _link("h1", "a1", LinkKind.STAFF),
             _link("w1", "w2", LinkKind.ID), _link("w1", "h2", LinkKind.STAFF)]
    got = annex([set(cut), set(gang), set(other)], links, cards)
    assert got == [{*gang, "b1", "b2", "g1", "g2", *cut}, set(other)]
    assert annex([], links, cards) == []


def test_annex_takes_in_openers_who_came_back_to_the_gangs_staff_on_other_days() -> None:
    def card(msisdn: str, store: str, staff: str, day: int) -> Card:
        return Card(msisdn=msisdn, id_hash=msisdn[0], channel_id=store, staff_id=staff,
                    by_order=False, registered_at=datetime(2026, 10, day, 14))

    gang = ["a1", "a2", "b1", "b2"]  # found: openers a and b, served by X at S1 and Y at S2
    cards = {c.msisdn: c for c in [
        card("a1", "S1", "X", 1), card("a2", "S2", "Y", 1),
        card("b1", "S1", "X", 2), card("b2", "S2", "Y", 2),
        # came back a week later, to the gang's staff at its stores: no burst with the gang
        card("k1", "S1", "X", 8), card("k2", "S2", "Y", 9), card("k3", "S2", "Z", 9),
        # an honest customer's two cards in one visit to X
        card("h1", "S1", "X", 5), card("h2", "S1", "X", 5),
        # the gang's stores, but mostly other staff
        card("m1", "S1", "Z", 6), card("m2", "S2", "Z", 7), card("m3", "S1", "X", 7),
        # the gang's staff, but one card at a store of its own
        card("n1", "S1", "X", 6), card("n2", "S9", "W", 8),
        # the gang's staff on two days at its stores, then more: a late-comer's own burst
        # brings along another opener (p) met only in that burst at the gang's stores
        card("o1", "S1", "X", 10), card("o2", "S1", "X", 12),
        card("p1", "S1", "V", 12), card("p2", "S2", "V", 12),
    ]}
    links = [_link("a1", "a2", LinkKind.ID), _link("b1", "b2", LinkKind.ID),
             _link("a1", "b1", LinkKind.STAFF),
             _link("k1", "k2", LinkKind.ID), _link("k2", "k3", LinkKind.ID),
             _link("h1", "h2", LinkKind.ID), _link("m1", "m2", LinkKind.ID),
             _link("m2", "m3", LinkKind.ID), _link("n1", "n2", LinkKind.ID),
             _link("o1", "o2", LinkKind.ID), _link("p1", "p2", LinkKind.ID),
             _link("o2", "p1", LinkKind.TERMINAL)]
    got = annex([set(gang)], links, cards)
    assert got == [{*gang, "k1", "k2", "k3", "o1", "o2", "p1", "p2"}]
