"""The registration graph: which cards are linked, by what, and how rarity weighs a link; and
the community core that keeps weakly tied cards out of a gang."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import ibis
import pytest
from tests.services.ganglake import Lake, write

from telshield.detect.communities import core
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
