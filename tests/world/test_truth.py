"""Every scenario is present with its truth, and the truth never reaches the feeds."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from telshield.world.generate import FEED_NAMES
from telshield.world.nodes import FRAUD_ROLES, OPTIONAL_ROLES, ROLES, SCENARIOS


@pytest.fixture(scope="module")
def db(month: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for feed in FEED_NAMES:
        con.execute(f"CREATE VIEW {feed} AS SELECT * FROM read_parquet('{month / feed}/*.parquet')")
    for t in ("numbers", "calls", "dens", "gangs"):
        con.execute(f"CREATE VIEW truth_{t} AS SELECT * FROM '{month / 'truth' / t}.parquet'")
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_every_role_and_scenario_is_present(db: duckdb.DuckDBPyConnection) -> None:
    roles = {r for (r,) in db.execute("SELECT DISTINCT role FROM truth_numbers").fetchall()}
    assert roles == set(ROLES) - set(OPTIONAL_ROLES)  # the look-alikes are off by default
    fraud_scenarios = {s for (s,) in db.execute(
        "SELECT DISTINCT scenario FROM truth_calls WHERE is_fraud").fetchall()}
    assert fraud_scenarios == set(SCENARIOS) - {"none", "sanctions"}
    routes = {r for (r,) in db.execute("SELECT DISTINCT route FROM truth_calls").fetchall()}
    assert routes == {"local", "inter_province", "international", "inter_network"}


def test_truth_calls_match_the_calls_feed(db: duckdb.DuckDBPyConnection) -> None:
    assert one(db, "SELECT count(*) FROM calls") == one(db, "SELECT count(*) FROM truth_calls")
    assert one(db, "SELECT count(*) FROM calls JOIN truth_calls USING (call_id)") == one(
        db, "SELECT count(*) FROM calls")
    assert one(db, "SELECT count(*) FROM calls WHERE caller = callee") == 0
    # Fraud calls come from fraud numbers (or spoofed presentations of real numbers).
    stray = one(db, """SELECT count(*) FROM calls c JOIN truth_calls t USING (call_id)
        LEFT JOIN truth_numbers n ON n.msisdn = c.caller
        WHERE t.is_fraud AND t.scenario <> 'spoofed'
          AND coalesce(n.role, 'none') NOT IN ('fraud_sim', 'den_sim', 'offnet_fraud')
          AND NOT (t.scenario = 'audio_cable_den' AND c.ingress = 'international')""")
    assert stray == 0
    # Audio-cable dens: the relay phone takes a call from abroad for each bridged call.
    legs = one(db, """SELECT count(*) FROM calls c JOIN truth_calls t USING (call_id)
        JOIN truth_numbers n ON n.msisdn = c.callee
        WHERE t.scenario = 'audio_cable_den' AND c.ingress = 'international'
          AND n.role = 'den_sim' AND c.callee_cell IS NOT NULL""")
    assert legs > 0
    spoofed = db.execute("""SELECT DISTINCT c.ingress FROM calls c JOIN truth_calls t
        USING (call_id) WHERE t.scenario = 'spoofed' AND t.is_fraud""").fetchall()
    assert {i for (i,) in spoofed} == {"international", "interconnect"}


def test_dens_hold_their_sims_in_one_or_two_cells_of_a_county(
    db: duckdb.DuckDBPyConnection,
) -> None:
    kinds = {k for (k,) in db.execute("SELECT DISTINCT kind FROM truth_dens").fetchall()}
    assert kinds == {"goip", "audio_cable"}
    rows = db.execute("""
        SELECT d.den_id, d.county, count(DISTINCT c.caller_cell), count(DISTINCT x.county),
               min(d.ports), count(DISTINCT c.caller)
        FROM truth_dens d, unnest(d.msisdns) AS m(msisdn)
        JOIN calls c ON c.caller = m.msisdn
        JOIN cells x ON x.cell_id = c.caller_cell
        GROUP BY d.den_id, d.county""").fetchall()
    assert rows
    for den_id, _county, n_cells, n_counties, ports, sims in rows:
        assert n_cells <= 2 and n_counties == 1, den_id
        assert sims >= ports, den_id  # SIMs are swapped every few days
    # GOIP dens without forged IMEIs use a TAC that device_intel lists as goip.
    bad = one(db, """SELECT count(*) FROM truth_dens d JOIN device_intel i ON i.tac = d.tac
        WHERE i.kind <> 'goip'""")
    assert bad == 0
    assert one(db, "SELECT count(*) FROM truth_dens WHERE tac IS NOT NULL") > 0


def test_gang_cards_come_from_colluding_channels_several_per_id(
    db: duckdb.DuckDBPyConnection,
) -> None:
    rows = db.execute("""
        SELECT g.gang_id, count(*) AS cards,
               count(*) FILTER (WHERE list_contains(g.channel_ids, s.channel_id)
                                  OR s.channel_id LIKE 'EC-%') AS via_gang,
               count(DISTINCT s.id_hash) AS ids
        FROM truth_gangs g, unnest(g.msisdns) AS m(msisdn)
        JOIN subscribers s ON s.msisdn = m.msisdn
        GROUP BY g.gang_id""").fetchall()
    assert rows
    for gang_id, cards, via_gang, ids in rows:
        assert via_gang == cards, gang_id
        assert cards >= 2 * ids, gang_id
    shared = one(db, """SELECT count(*) FROM orders o JOIN truth_gangs g
        ON list_contains(g.address_hashes, o.address_hash)""")
    assert shared > 0  # e-channel orders share delivery addresses


def test_sanctioned_persons_register_again(db: duckdb.DuckDBPyConnection) -> None:
    again = one(db, """SELECT count(*) FROM subscribers s JOIN sanctions x USING (id_hash)
        WHERE s.registered_at BETWEEN x.starts_at AND x.ends_at""")
    assert again >= 1


def test_clues_are_late_and_name_fraud_numbers(db: duckdb.DuckDBPyConnection) -> None:
    rows = db.execute("""SELECT c.reported_at, n.role, n.first_victim_call_at
        FROM clues c JOIN truth_numbers n USING (msisdn)""").fetchall()
    assert rows and len(rows) == one(db, "SELECT count(*) FROM clues")
    for reported, role, first_victim in rows:
        assert role in FRAUD_ROLES
        assert reported > first_victim
    fraud = one(db, """SELECT count(*) FROM truth_numbers
        WHERE first_victim_call_at IS NOT NULL""")
    assert len(rows) < fraud  # partial labels: only some fraud numbers get a clue


def test_fraud_numbers_are_a_small_minority(db: duckdb.DuckDBPyConnection) -> None:
    share = one(db, """SELECT avg(CASE WHEN role IN ('fraud_sim', 'den_sim', 'trafficked_card')
        THEN 1 ELSE 0 END) FROM truth_numbers
        WHERE ours AND msisdn IN (SELECT caller FROM calls UNION SELECT callee FROM calls)""")
    assert 0 < share < 0.01


TRUTH_WORDS = ("fraud_sim", "den_sim", "trafficked_card", "offnet_fraud", "goip_den",
               "card_gang", "DEN-", "GANG-", "courier", "gang-", "opener", "sanctioned-")


def test_truth_never_leaks_into_the_feeds(month: Path, db: duckdb.DuckDBPyConnection) -> None:
    for feed in FEED_NAMES:
        files = list((month / feed).rglob("*"))
        assert all(f.name.startswith("part-") for f in files), feed
        for f in files:
            meta = pq.read_schema(f).metadata or {}
            assert not any(b"truth" in k or b"role" in k for k in meta), f
        cols = db.execute(f"DESCRIBE {feed}").fetchall()
        for name, type_, *_ in cols:
            assert name not in {"role", "scenario", "is_fraud", "den_id", "gang_id", "route"}
            if type_ != "VARCHAR":
                continue
            pattern = "|".join(TRUTH_WORDS)
            hits = one(db, f"SELECT count(*) FROM {feed} WHERE regexp_matches({name}, '{pattern}')")
            assert hits == 0, (feed, name)
    # Identifiers follow time, never the scenario that made them.
    assert one(db, """SELECT count(*) FROM (SELECT call_id, started_at,
        lag(started_at) OVER (ORDER BY call_id) AS prev FROM calls) WHERE started_at < prev""") == 0
