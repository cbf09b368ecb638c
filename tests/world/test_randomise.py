"""Provinces drawn from the prior: the draw, its record, and the look-alikes it brings.

A randomised province must carry every honest look-alike with an operator-visible but imperfect
signal, travellers abroad whose calls home agree with the roaming feed, and a re-verification
truth that fraud numbers never satisfy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from telshield.domain.errors import InvalidInput
from telshield.world.config import load_config
from telshield.world.config import randomised as with_prior
from telshield.world.generate import generate
from telshield.world.nodes import ROLES
from telshield.world.prior import draw, entries, fixed_reason, markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "world.md"


def _leaves(node: dict[str, Any], path: tuple[str, ...] = ()) -> list[str]:
    out: list[str] = []
    for k, v in node.items():
        out += _leaves(v, (*path, k)) if isinstance(v, dict) else [".".join((*path, k))]
    return out


def test_the_draw_is_a_function_of_the_seed() -> None:
    cfg = with_prior(load_config())
    a, pa = draw(cfg, 1000)
    b, pb = draw(cfg, 1000)
    _, pc = draw(cfg, 1001)
    assert a == b and pa == pb
    assert pa != pc
    assert sum(pa[k] != pc[k] for k in pa) > 0.9 * len(pa)  # every behaviour at once


def test_without_randomise_nothing_is_drawn() -> None:
    cfg = load_config()
    same, params = draw(cfg, 1000)
    assert same is cfg
    assert set(params) == {e.key for e in entries()}


def test_every_parameter_is_drawn_or_left_fixed_for_a_stated_reason() -> None:
    drawn = {e.key for e in entries()}
    keys = [k for k in _leaves(load_config().model_dump()) if not k.startswith("randomise.")]
    loose = [k for k in keys if k not in drawn and fixed_reason(k) is None]
    assert loose == [], "add these to world/prior.toml or to prior.FIXED with a reason"
    assert all(e.source for e in entries())
    assert not drawn & {k for k in keys if fixed_reason(k)}


@pytest.mark.parametrize("seed", [1000, 1001, 1002, 1999])
def test_drawn_values_lie_in_the_prior(seed: int) -> None:
    cfg, params = draw(with_prior(load_config()), seed)
    dumped = cfg.model_dump()
    for e in entries():
        assert e.lo - 1e-9 <= params[e.key] <= e.hi + 1e-9, e.key
        node: Any = dumped
        for part in e.key.split("."):
            node = node[part]
        assert node == params[e.key], e.key


def test_ranges_in_the_config_narrow_the_prior(tmp_path: Path) -> None:
    f = tmp_path / "narrow.toml"
    f.write_text('[randomise]\nenabled = true\nranges = { "fraud_sim.answer_rate" = [0.3, 0.3] }\n')
    cfg, params = draw(load_config(f), 7)
    assert params["fraud_sim.answer_rate"] == cfg.fraud_sim.answer_rate == 0.3
    f.write_text('[randomise]\nenabled = true\nranges = { "fraud_sim.answer_rat" = [0.3, 0.4] }\n')
    with pytest.raises(InvalidInput, match=r"fraud_sim\.answer_rat"):
        draw(load_config(f), 7)


def test_entries_added_later_move_no_earlier_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    from telshield.world import prior

    found = entries()
    assert [e.later for e in found] == sorted(e.later for e in found)  # drawn last
    assert {"portability.ported_share", "spoofing.entry_matches_share"} <= {
        e.key for e in found if e.later}
    _, now = draw(with_prior(load_config()), 1000)
    monkeypatch.setattr(prior, "entries", lambda: [e for e in found if not e.later])
    _, before = draw(with_prior(load_config()), 1000)
    assert before == {k: v for k, v in now.items() if k in before}


def test_the_docs_carry_the_prior_table() -> None:
    assert markdown() in DOC.read_text(), (
        "docs/world.md is stale: paste the output of `telshield world prior --markdown`")


# -- a province drawn from the prior ---------------------------------------------------------


@pytest.fixture(scope="module")
def db(randomised: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for feed in ("calls", "sms", "subscribers", "device_intel", "roaming"):
        con.execute(f"CREATE VIEW {feed} AS SELECT * FROM '{randomised / feed}/*.parquet'")
    for t in ("numbers", "calls", "dens"):
        con.execute(f"CREATE VIEW truth_{t} AS SELECT * FROM '{randomised / 'truth' / t}.parquet'")
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_the_province_records_what_was_drawn(randomised: Path) -> None:
    meta = json.loads((randomised / "world.json").read_text())
    params = json.loads((randomised / "truth" / "params.json").read_text())
    assert meta["randomised"] and params["randomised"] and params["seed"] == 5
    assert params["params"] == draw(with_prior(load_config(subscribers=6000, days=8)), 5)[1]
    assert meta["config"]["fraud_sim"]["answer_rate"] == params["params"]["fraud_sim.answer_rate"]


def test_every_role_is_present(db: duckdb.DuckDBPyConnection) -> None:
    roles = {r for (r,) in db.execute("SELECT DISTINCT role FROM truth_numbers").fetchall()}
    assert roles == set(ROLES)


def test_offices_are_old_sims_of_one_company_in_one_cell(db: duckdb.DuckDBPyConnection) -> None:
    rows = db.execute("""
        SELECT n.role, count(DISTINCT c.caller_cell) AS cells, count(DISTINCT c.caller) AS lines,
               median(date_diff('day', s.registered_at, TIMESTAMP '2026-10-01')) AS age_days,
               avg(CASE WHEN c.duration_s > 0 THEN 1 ELSE 0 END) AS answered,
               count(*) FILTER (WHERE dayofweek(c.started_at) IN (0, 6)) * 1.0 / count(*) AS weekend
        FROM calls c JOIN truth_numbers n ON n.msisdn = c.caller
        JOIN subscribers s ON s.msisdn = c.caller
        WHERE n.role IN ('telemarketing', 'collection') GROUP BY n.role""").fetchall()
    assert {r[0] for r in rows} == {"telemarketing", "collection"}
    for role, cells, lines, age, answered, weekend in rows:
        assert lines >= 4 and cells <= lines, role  # each office calls from its one cell
        assert age > 180, role  # old SIMs
        assert 0.2 < answered < 0.8, role  # about half unanswered
        assert weekend < 0.1, role  # weekdays
    per_cell = one(db, """SELECT max(n) FROM (SELECT count(DISTINCT c.caller_cell) AS n
        FROM calls c JOIN truth_numbers t ON t.msisdn = c.caller
        WHERE t.role = 'telemarketing' GROUP BY c.caller)""")
    assert per_cell == 1


def test_business_lines_show_imperfectly_to_the_operator(db: duckdb.DuckDBPyConnection) -> None:
    kinds = dict(db.execute("""SELECT s.holder_kind, count(*) FROM subscribers s
        JOIN truth_numbers n USING (msisdn)
        WHERE n.role IN ('telemarketing', 'collection', 'enterprise_line', 'relay', 'iot')
        GROUP BY 1""").fetchall())
    assert kinds.get("enterprise", 0) > 0 and kinds.get("iot", 0) > 0
    assert kinds.get("individual", 0) > 0  # some registered to their staff, not the company
    modem = one(db, """SELECT count(DISTINCT c.caller) FROM calls c
        JOIN device_intel d ON d.tac = substr(c.caller_imei, 1, 8)
        JOIN truth_numbers n ON n.msisdn = c.caller
        WHERE d.kind = 'modem' AND n.role IN ('iot', 'relay', 'telemarketing', 'collection')""")
    assert modem > 0
    on_modems = one(db, """SELECT count(*) FROM calls c
        JOIN device_intel d ON d.tac = substr(c.caller_imei, 1, 8)
        JOIN truth_numbers n ON n.msisdn = c.caller WHERE d.kind IN ('modem', 'deskphone')
        AND n.role NOT IN ('iot', 'relay', 'telemarketing', 'collection')""")
    assert on_modems == 0  # people and fraud here use phones or GOIPs


def test_iot_lines_report_to_one_number(db: duckdb.DuckDBPyConnection) -> None:
    most = one(db, """SELECT max(k) FROM (SELECT count(DISTINCT receiver) AS k FROM sms s
        JOIN truth_numbers n ON n.msisdn = s.sender WHERE n.role = 'iot' GROUP BY sender)""")
    assert most == 1
    incoming = one(db, """SELECT count(*) FROM calls c JOIN truth_numbers n
        ON n.msisdn = c.callee WHERE n.role = 'iot'""")
    assert incoming == 0


def test_calls_home_from_abroad_agree_with_the_roaming_feed(
    db: duckdb.DuckDBPyConnection,
) -> None:
    db.execute("""CREATE OR REPLACE TEMP TABLE away AS
        SELECT msisdn, "at" AS since,
               lead("at") OVER (PARTITION BY msisdn ORDER BY "at") AS until, event
        FROM roaming""")
    home = db.execute("""SELECT c.call_id, t.is_fraud, t.route, c.caller_cell,
        EXISTS (SELECT 1 FROM away a WHERE a.msisdn = c.caller AND a.event = 'attach'
                AND a.since <= c.started_at AND (a.until IS NULL OR c.started_at < a.until))
        FROM calls c JOIN truth_calls t USING (call_id) JOIN truth_numbers n ON n.msisdn = c.caller
        WHERE n.role = 'abroad_traveller' AND c.ingress = 'international'""").fetchall()
    assert len(home) > 0
    for call_id, is_fraud, route, cell, attached in home:
        assert attached, call_id  # only while the feed says the number is abroad
        assert not is_fraud and route == "international" and cell is None, call_id
    on_radio_while_away = one(db, """SELECT count(*) FROM calls c JOIN away a
        ON a.msisdn = c.caller AND a.event = 'attach' AND a.since <= c.started_at
        AND (a.until IS NULL OR c.started_at < a.until) WHERE c.ingress = 'radio'""")
    assert on_radio_while_away == 0
    assert one(db, "SELECT count(*) FROM roaming r LEFT JOIN truth_numbers n USING (msisdn)"
                   " WHERE n.role IS DISTINCT FROM 'abroad_traveller'") == 0


def test_reverification_truth(db: duckdb.DuckDBPyConnection) -> None:
    rows = {g: (yes, no, null) for g, yes, no, null in db.execute("""
        SELECT CASE WHEN NOT ours THEN 'not ours' WHEN role IN ('fraud_sim', 'den_sim',
        'trafficked_card') THEN 'fraud' ELSE 'honest' END, count(*) FILTER (WHERE reverifies),
        count(*) FILTER (WHERE NOT reverifies), count(*) FILTER (WHERE reverifies IS NULL)
        FROM truth_numbers GROUP BY 1""").fetchall()}
    assert rows["fraud"][0] == rows["fraud"][2] == 0 < rows["fraud"][1]  # never
    assert rows["not ours"][:2] == (0, 0)  # not ours to ask
    yes, no, null = rows["honest"]
    assert null == 0 and yes > 5 * no > 0  # most, not all, honest owners would
    bad = one(db, """SELECT count(*) FROM truth_numbers WHERE (reverifies AND
        (reverify_after_h IS NULL OR reverify_after_h <= 0))
        OR (NOT reverifies AND reverify_after_h IS NOT NULL)""")
    assert bad == 0


def test_new_labels_never_leak_into_the_feeds(db: duckdb.DuckDBPyConnection) -> None:
    words = "telemarketing|collection|company-|relay-platform|iot-site|staff-|handler"
    for feed, cols in (("subscribers", ("id_hash", "channel_id", "staff_id", "terminal_id")),
                       ("roaming", ("visited_country", "visited_network", "event"))):
        for col in cols:
            assert one(db, f"SELECT count(*) FROM {feed} WHERE regexp_matches({col}, "
                           f"'{words}')") == 0, (feed, col)


# -- stealthier fraud: each knob does what it says ------------------------------------------


@pytest.fixture(scope="module")
def stealthy(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    base = tmp_path_factory.mktemp("stealth")
    (base / "s.toml").write_text(
        "[fraud_sim]\noffice_hours_share = 1.0\ncover_calls_per_day = 3.0\nrelocate_share = 1.0\n"
        "new_phone_share = 1.0\ncrews_per_100k = 300\nenterprise_share = 0.5\n"
        "[dens]\nper_100k = 60\naudio_cable_share = 0.0\nrotating_imei_share = 0.0\n"
        "forged_tac_share = 1.0\n")
    cfg = load_config(base / "s.toml", subscribers=3000, days=8, start="2026-10-05 00:00:00")
    generate(cfg, 3, base / "w")
    con = duckdb.connect()
    for feed in ("calls", "device_intel", "cells", "subscribers"):
        con.execute(f"CREATE VIEW {feed} AS SELECT * FROM '{base / 'w' / feed}/*.parquet'")
    for t in ("numbers", "calls", "dens"):
        con.execute(f"CREATE VIEW truth_{t} AS SELECT * FROM '{base / 'w' / 'truth' / t}.parquet'")
    return con


def test_office_hours_crews_call_only_on_weekdays_in_office_hours(
    stealthy: duckdb.DuckDBPyConnection,
) -> None:
    hours = stealthy.execute("""SELECT hour(c.started_at) AS h, dayofweek(c.started_at) AS d
        FROM calls c JOIN truth_calls t USING (call_id) JOIN truth_numbers n
        ON n.msisdn = c.caller WHERE t.is_fraud AND n.role = 'fraud_sim'
        AND c.callee NOT IN (SELECT msisdn FROM truth_numbers WHERE role = 'handler')""").fetchall()
    assert hours
    assert all(7 <= h < 20 for h, _ in hours)  # office hours, and redials within the hour
    assert sum(d in (0, 6) for _, d in hours) < 0.1 * len(hours)


def test_crews_keep_calling_their_handler_and_move(stealthy: duckdb.DuckDBPyConnection) -> None:
    cover = stealthy.execute("""SELECT count(*), count(DISTINCT h.msisdn) FROM calls c
        JOIN truth_numbers h ON h.role = 'handler' AND h.msisdn IN (c.caller, c.callee)
        """).fetchone()
    assert cover is not None and cover[0] > 10 * cover[1] > 0
    # A crew is the SIMs that call one handler; with relocate_share = 1 it changes county.
    crews = stealthy.execute("""WITH sim AS (
            SELECT DISTINCT c.caller AS msisdn, c.callee AS handler FROM calls c
            JOIN truth_numbers h ON h.msisdn = c.callee AND h.role = 'handler'),
        county AS (SELECT c.caller AS msisdn, min(x.county) AS county FROM calls c
            JOIN cells x ON x.cell_id = c.caller_cell GROUP BY 1)
        SELECT handler, count(*) AS sims, count(DISTINCT county) AS counties
        FROM sim JOIN county USING (msisdn) GROUP BY 1 HAVING count(*) > 1""").fetchall()
    assert crews
    assert sum(counties > 1 for _, _, counties in crews) >= 0.8 * len(crews)


def test_forged_tac_dens_look_like_phones(stealthy: duckdb.DuckDBPyConnection) -> None:
    dens = stealthy.execute("SELECT imeis, tac FROM truth_dens").fetchall()
    assert dens and all(i == "forged_tac" and t is None for i, t in dens)
    on_goip = one(stealthy, """SELECT count(*) FROM calls c JOIN device_intel d
        ON d.tac = substr(c.caller_imei, 1, 8) JOIN truth_numbers n ON n.msisdn = c.caller
        WHERE n.role = 'den_sim' AND d.kind = 'goip'""")
    assert on_goip == 0


def test_some_fraud_sims_are_shell_companies_enterprise_cards(
    stealthy: duckdb.DuckDBPyConnection,
) -> None:
    kinds = dict(stealthy.execute("""SELECT s.holder_kind, count(*) FROM subscribers s
        JOIN truth_numbers n USING (msisdn) WHERE n.role = 'fraud_sim' AND n.gang_id IS NULL
        GROUP BY 1""").fetchall())
    assert kinds.get("enterprise", 0) > 0 and kinds.get("individual", 0) > 0
    most = one(stealthy, """SELECT max(k) FROM (SELECT count(*) AS k FROM subscribers s
        JOIN truth_numbers n USING (msisdn) WHERE n.role = 'fraud_sim'
        AND s.holder_kind = 'enterprise' GROUP BY s.id_hash)""")
    assert 1 < most <= 5  # a shell company holds a few cards
