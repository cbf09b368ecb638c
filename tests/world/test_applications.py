"""The registrations feed (SIM applications): its contract, one application per SIM registered in
the window, the applications that never became a card, and truth that joins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from telshield.reference.schemas import FEEDS
from telshield.services.ingest import IngestOptions, ingest
from telshield.world.config import load_config
from telshield.world.generate import generate

START = "2026-10-10 00:00:00"
# Raised so that a small province has each kind of application several times.
CONFIG = """
[sanctions]
persons_per_100k = 600
reregister_share = 0.2
[gangs]
per_100k = 100
[registrations]
sanctioned_try_share = 0.8
mule_over_limit_share = 1.0
staff_alone_share = 0.5
mismatch_share = 0.2
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("applications")
    (base / "w.toml").write_text(CONFIG)
    cfg = load_config(base / "w.toml", subscribers=2000, days=10, start=START)
    generate(cfg, 4, base / "world")
    return base / "world"


@pytest.fixture(scope="module")
def db(world: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for feed in ("registrations", "subscribers", "sanctions", "orders"):
        con.execute(f"CREATE VIEW {feed} AS SELECT * FROM read_parquet('{world / feed}/*.parquet')")
    for t in ("registrations", "gangs"):
        con.execute(f"CREATE VIEW truth_{t} AS SELECT * FROM '{world / 'truth' / t}.parquet'")
    return con


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def test_the_feed_has_its_schema_and_passes_the_real_ingest(world: Path, tmp_path: Path) -> None:
    for part in (world / "registrations").iterdir():
        assert pq.read_schema(part).remove_metadata().equals(FEEDS["registrations"].schema)
    opts = IngestOptions(lake_dir=tmp_path / "lake", quarantine_dir=tmp_path / "q")
    report = ingest("registrations", [world / "registrations"], opts)
    assert report.rows_read > 30
    assert sum(report.quarantined.values()) == 0, report.quarantined
    assert report.added == report.rows_read
    again = ingest("registrations", [world / "registrations"], opts)
    assert again.added == 0  # keyed by attempt_id: re-ingesting adds nothing


def test_every_sim_registered_in_the_window_has_its_application(
        db: duckdb.DuckDBPyConnection) -> None:
    (in_window,) = rows(db, f"SELECT count(*) FROM subscribers WHERE registered_at >= '{START}'")[0]
    assert in_window > 20
    matched = rows(db, f"""
        SELECT s.msisdn, min(r.applied_at), s.registered_at
        FROM subscribers s JOIN registrations r
          ON r.requested_msisdn = s.msisdn AND r.id_hash = s.id_hash
         AND r.channel_id = s.channel_id AND r.staff_id = s.staff_id
         AND r.terminal_id IS NOT DISTINCT FROM s.terminal_id
         AND r.order_id IS NOT DISTINCT FROM s.order_id AND r.outcome = 'issued'
        WHERE s.registered_at >= '{START}' GROUP BY s.msisdn, s.registered_at""")
    assert len(matched) == in_window
    for _, applied, registered in matched:
        gap = (registered - applied).total_seconds()
        assert 0 < gap <= 1200
    (issued,) = rows(db, "SELECT count(*) FROM registrations WHERE outcome = 'issued'")[0]
    assert issued == in_window  # and no application was issued without its SIM


def test_applications_that_never_became_a_card(db: duckdb.DuckDBPyConnection) -> None:
    got: dict[str, int] = dict(rows(db, """SELECT t.kind || '/' || r.outcome, count(*)
        FROM registrations r JOIN truth_registrations t USING (attempt_id) GROUP BY 1"""))
    # Sanctioned persons trying, refused by the old process, named in the sanctions feed.
    refused = rows(db, """SELECT count(*), count(s.id_hash) FROM registrations r
        JOIN truth_registrations t USING (attempt_id)
        LEFT JOIN (SELECT DISTINCT id_hash FROM sanctions) s USING (id_hash)
        WHERE t.kind = 'sanctioned' AND r.outcome = 'refused'""")[0]
    assert refused[0] > 0 and refused[0] == refused[1]
    assert got.get("sanctioned/issued", 0) > 0  # and some the old process let through
    # Gang openers at the limit trying for one more card.
    over = rows(db, """SELECT r.id_hash, count(DISTINCT s.msisdn) FROM registrations r
        JOIN truth_registrations t USING (attempt_id) JOIN subscribers s USING (id_hash)
        WHERE t.kind = 'gang_mule' AND r.outcome = 'refused' GROUP BY 1""")
    assert over and all(cards >= 5 for _, cards in over)
    assert got.get("honest/abandoned", 0) > 0
    # The orders that never got a number, placed in the window, are abandoned applications.
    (orphans,) = rows(db, f"""SELECT count(*) FROM orders o WHERE o.msisdn IS NULL
        AND o.created_at >= '{START}' AND o.created_at < TIMESTAMP '{START}' + INTERVAL 9 DAY
        AND o.order_id NOT IN (SELECT order_id FROM registrations
                               WHERE outcome = 'abandoned' AND order_id IS NOT NULL)""")[0]
    assert orphans == 0
    assert got.get("colluding_staff/issued", 0) > 0


def test_truth_joins_one_to_one_and_names_real_gangs(db: duckdb.DuckDBPyConnection) -> None:
    (feed, truth, both) = rows(db, """SELECT (SELECT count(*) FROM registrations),
        (SELECT count(*) FROM truth_registrations),
        (SELECT count(*) FROM registrations JOIN truth_registrations USING (attempt_id))""")[0]
    assert feed == truth == both
    bad = rows(db, """SELECT kind, gang_id FROM truth_registrations
        WHERE (gang_id IS NOT NULL) != (kind IN ('gang_mule', 'colluding_staff'))
           OR (gang_id IS NOT NULL AND gang_id NOT IN (SELECT gang_id FROM truth_gangs))""")
    assert bad == []
    # A colluding clerk works at one of the gang's colluding stores.
    wrong = rows(db, """SELECT r.staff_id FROM registrations r
        JOIN truth_registrations t USING (attempt_id) JOIN truth_gangs g USING (gang_id)
        WHERE t.kind = 'colluding_staff' AND NOT list_contains(g.staff_ids, r.staff_id)""")
    assert wrong == []


def test_transcripts_follow_their_statement(db: duckdb.DuckDBPyConnection) -> None:
    got = rows(db, """SELECT t.statement, r.transcript, t.said, r.requested_msisdn
        FROM registrations r JOIN truth_registrations t USING (attempt_id)""")
    kinds = {s for s, *_ in got}
    assert {"honest", "wrong_digits", "silence"} <= kinds
    for statement, transcript, said, msisdn in got:
        last4 = str(msisdn)[-4:]
        if statement == "silence":
            assert not transcript and said == ""
        elif statement == "honest":
            assert said == f"我本人实名登记并领取了尾号{last4}的电话卡"
            assert transcript
        elif statement == "wrong_digits":
            assert last4 not in str(said) and "尾号" in str(said)
