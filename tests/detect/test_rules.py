"""Rules: parsing, validation errors that name the rule, compilation to Ibis, scoring."""

from __future__ import annotations

from importlib import resources

import ibis
import pytest

from telshield.detect.inbound import detection_feature_names
from telshield.detect.rules import parse_rules, rule_hits
from telshield.domain.errors import InvalidInput

KNOWN = ["calls", "callers", "share", "sim_age_days"]

GOOD = """
version = "3"
[[rules]]
name = "busy"
when = "calls >= 10 and share < 0.5"
weight = 0.5
reason = "{calls} calls"
[[rules]]
name = "young"
when = "not (sim_age_days > 30) or calls / callers > 4"
weight = 0.5
reason = "young SIM"
"""


def _one(when: str, reason: str = "r", weight: str = "0.5") -> str:
    return f'[[rules]]\nname = "r1"\nwhen = "{when}"\nweight = {weight}\nreason = "{reason}"\n'


def test_good_rules_compile_and_score() -> None:
    rs = parse_rules(GOOD, KNOWN)
    assert rs.version.startswith("3+") and [r.name for r in rs.rules] == ["busy", "young"]
    assert rs.rule("young").features == ("sim_age_days", "calls", "callers")
    t = ibis.memtable({"msisdn": ["a", "b", "c", "d"], "calls": [12, 12, 1, 20],
                       "callers": [1, 6, 1, 10], "share": [0.1, 0.9, 0.1, None],
                       "sim_age_days": [10.0, 400.0, 400.0, None]})
    got = ibis.duckdb.connect().execute(rule_hits(t, rs)).set_index("msisdn")
    assert got.hit__busy.tolist() == [True, False, False, False]  # null share: not a hit
    assert got.hit__young.tolist() == [True, False, False, False]
    assert got.rule_score.tolist() == pytest.approx([0.75, 0.0, 0.0, 0.0])
    assert rs.rule("busy").explain({"calls": 12}) == "12 calls"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_one("calls >= 10 and colls < 3"), "rule 'r1': unknown feature 'colls'"),
        (_one("calls >=> 10"), "rule 'r1': bad syntax"),
        (_one("__import__('os')"), "rule 'r1': '__import__('os')' is not allowed"),
        (_one("calls.real > 1"), "is not allowed"),
        (_one("calls > 1", weight="1.5"), "'weight' must be a number in (0, 1]"),
        (_one("calls > 1", reason="{nope}"), "reason refers to unknown feature {nope}"),
        (_one("calls > 'x'"), "is not allowed"),
        (_one("calls > 1") + _one("calls > 2"), "repeated: r1"),
        ("rules = 3", "no [[rules]] tables"),
        ("[[rules]\n", "not valid TOML"),
    ],
)
def test_bad_rules_are_named(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as e:
        parse_rules(text, KNOWN, source="my.toml")
    assert message in str(e.value) and str(e.value).startswith("my.toml")


def test_version_changes_with_content() -> None:
    a = parse_rules(GOOD, KNOWN).version
    assert a == parse_rules(GOOD, KNOWN).version
    assert a != parse_rules(GOOD.replace("< 0.5", "< 0.6"), KNOWN).version


def test_default_rules_are_valid() -> None:
    text = resources.files("telshield.detect").joinpath("default_rules.toml").read_text()
    rs = parse_rules(text, detection_feature_names())
    assert len(rs.rules) >= 5


def test_score_with_weights_that_are_not_exact_in_binary() -> None:
    # 1 - 0.7 is 0.30000000000000004: as DECIMAL literals, a product of several overflowed.
    text = 'version = "t"\n' + "".join(
        f'[[rules]]\nname = "r{i}"\nwhen = "out_calls_24h > {i}"\nweight = 0.7\nreason = "r"\n'
        for i in range(6))
    rs = parse_rules(text, detection_feature_names())
    frame = ibis.memtable({"msisdn": ["a", "b"], "out_calls_24h": [10, 0]})
    got = ibis.duckdb.connect().execute(rule_hits(frame, rs)).set_index("msisdn")["rule_score"]
    assert got["a"] == pytest.approx(1 - 0.3**6) and got["b"] == 0.0


CAPPED = GOOD + """
[[caps]]
name = "old_line"
when = "sim_age_days > 365"
cap = 0.3
reason = "held {sim_age_days} days"
"""


def test_a_cap_limits_the_score_of_the_numbers_it_holds_for() -> None:
    rs = parse_rules(CAPPED, KNOWN)
    assert [c.name for c in rs.caps] == ["old_line"] and rs.caps[0].weight == 0.3
    t = ibis.memtable({"msisdn": ["old", "young", "unknown"], "calls": [12, 12, 12],
                       "callers": [1, 1, 1], "share": [0.1, 0.1, 0.1],
                       "sim_age_days": [400.0, 10.0, None]})
    got = ibis.duckdb.connect().execute(rule_hits(t, rs)).set_index("msisdn")
    assert got.loc["young", "rule_score"] == pytest.approx(0.75)  # both rules, uncapped
    assert got.loc["old", "rule_score"] == pytest.approx(0.3)  # busy only, capped at 0.3
    assert bool(got.loc["old", "hit__old_line"]) and not got.loc["young", "hit__old_line"]
    # An unknown age makes the cap's comparison false: the cap does not hold.
    assert got.loc["unknown", "rule_score"] == pytest.approx(0.75)


@pytest.mark.parametrize(("extra", "message"), [
    ('[[caps]]\nname = "c"\nwhen = "calls > 1"\ncap = 1.5\nreason = "r"\n', "'cap' must be"),
    ('[[caps]]\nname = "c"\nwhen = "calls > 1"\nweight = 0.5\nreason = "r"\n', "cap 'c'"),
    ('[[caps]]\nname = "busy"\nwhen = "calls > 1"\ncap = 0.5\nreason = "r"\n', "unique"),
    ('[[cap]]\nname = "c"\nwhen = "calls > 1"\ncap = 0.5\nreason = "r"\n', "top-level"),
])
def test_bad_caps_are_named(extra: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_rules(GOOD + extra, KNOWN)


def _shipped_scores(rows: dict[str, dict[str, float]]) -> dict[str, float]:
    """The shipped rules' scores of feature rows (every feature 0 unless given)."""
    text = resources.files("telshield.detect").joinpath("default_rules.toml").read_text()
    names = detection_feature_names()
    rs = parse_rules(text, names)
    frame = {"msisdn": list(rows)} | {n: [float(r.get(n, 0.0)) for r in rows.values()]
                                      for n in names}
    got = ibis.duckdb.connect().execute(rule_hits(ibis.memtable(frame), rs))
    return dict(zip(got["msisdn"], got["rule_score"], strict=True))


# A young SIM cold-calling 30 strangers a day from one cell, hardly called back: it reaches the
# verify tier (0.7) on the shipped rules.
COLD = {"is_subscriber": 1, "sim_age_days": 40, "history_days": 7, "distinct_callees_24h": 30,
        "new_callee_share_24h": 0.95, "callback_share_24h": 0.02, "callback_share_7d": 0.02,
        "distinct_cells_7d": 1, "distinct_counties_7d": 1, "distinct_callees_7d": 80,
        "outgoing_share_7d": 0.99, "in_calls_7d": 3, "active_days_7d": 4,
        "unanswered_share_7d": 0.5, "distinct_imeis_24h": 1}


def test_a_number_people_call_first_is_held_at_watch() -> None:
    got = _shipped_scores({
        "cold": COLD,
        "handler_only": COLD | {"unsolicited_callers_7d": 1},
        "given_out": COLD | {"unsolicited_callers_7d": 3},
        "given_out_goip": COLD | {"unsolicited_callers_7d": 3, "goip_device_24h": 1},
    })
    assert got["cold"] >= 0.7 and got["handler_only"] == got["cold"]
    assert got["given_out"] == pytest.approx(0.65)
    assert got["given_out_goip"] >= 0.7  # a device sign: the cap does not hold


def test_a_young_line_of_an_established_company_is_the_companys() -> None:
    office = COLD | {"sim_age_days": 80, "id_lines_cell_24h": 3, "holder_age_days": 900}
    got = _shipped_scores({
        "office_newcomer": office,
        "new_company": office | {"holder_age_days": 80},
        "one_colleague": office | {"id_lines_cell_24h": 1},
    })
    assert got["office_newcomer"] < 0.5  # below watch, as the company's old lines are
    assert got["new_company"] >= 0.7  # a shell company's lines are all weeks old
    assert got["one_colleague"] >= 0.7  # one other line of the holder is a card opener's too


# A crew's SIM calling from a car: four cells of one county, victims calling back now and then
# (so not one-way), half unanswered, nobody called it first.
MOVING = {"is_subscriber": 1, "sim_age_days": 30, "history_days": 7, "distinct_callees_24h": 30,
          "new_callee_share_24h": 0.97, "callback_share_24h": 0.04, "callback_share_7d": 0.04,
          "distinct_cells_7d": 4, "distinct_counties_7d": 1, "distinct_callees_7d": 60,
          "outgoing_share_7d": 0.92, "in_calls_7d": 5, "active_days_7d": 2,
          "unanswered_share_24h": 0.55, "unanswered_share_7d": 0.55, "distinct_imeis_24h": 1}


def test_a_young_cold_caller_nobody_was_given_reaches_verify() -> None:
    got = _shipped_scores({
        "crew": MOVING,
        "given_out": MOVING | {"unsolicited_callers_7d": 3},
        # A courier's calls are answered and its customers ring back (young_sim_roving_unreturned
        # reads the call-backs, not the answers).
        "answered": MOVING | {"unanswered_share_24h": 0.2, "callback_share_24h": 0.1,
                              "callback_share_7d": 0.1},
        # Two counties and nobody calling back: young_sim_roving_unreturned still holds; a
        # courier's round crosses three or more.
        "two_counties": MOVING | {"distinct_counties_7d": 2},
        "three_counties": MOVING | {"distinct_counties_7d": 3},
        "old_sim": MOVING | {"sim_age_days": 200},
    })
    assert got["crew"] >= 0.7 and got["two_counties"] >= 0.7
    assert got["given_out"] <= 0.65
    assert got["answered"] < 0.7 and got["three_counties"] < 0.7 and got["old_sim"] < 0.7


# Another network's number, new to ours, calling our subscribers: nobody of ours calls it first,
# a victim or two call it back (too many for `offnet_spray`).
OFFNET = {"is_subscriber": 0, "history_days": 7, "interconnect_share_7d": 1.0,
          "distinct_callees_24h": 12, "new_callee_share_24h": 1.0, "callback_share_24h": 0.0,
          "callback_share_7d": 0.06, "in_calls_7d": 1, "unanswered_share_24h": 0.6,
          "first_call_days": 1.5, "out_of_province": 0, "distinct_callees_7d": 12,
          "outgoing_share_7d": 0.93}


def test_another_networks_new_caller_nobody_calls_first_reaches_verify() -> None:
    got = _shipped_scores({
        "fraud": OFFNET,
        "called_first": OFFNET | {"unsolicited_callers_7d": 1},
        "known": OFFNET | {"first_call_days": 9.0},  # a sales line we have seen for days
        "known_other_province": OFFNET | {"first_call_days": 9.0, "out_of_province": 1},
    })
    assert got["fraud"] >= 0.7
    assert 0.5 <= got["called_first"] < 0.7  # watched (labelled), not blocked
    assert got["known"] < 0.5
    assert got["known_other_province"] >= 0.7


def test_the_next_sim_in_a_cold_callers_phone_reaches_verify() -> None:
    slow = {"is_subscriber": 1, "sim_age_days": 25, "history_days": 7,
            "distinct_callees_24h": 4, "new_callee_share_24h": 1.0, "outgoing_share_24h": 1.0,
            "distinct_cells_7d": 1, "distinct_counties_7d": 1, "distinct_imeis_24h": 1}
    got = _shipped_scores({
        "successor": slow | {"device_cold_predecessors": 1},
        "no_predecessor": slow,
        "old_line": slow | {"device_cold_predecessors": 1, "sim_age_days": 400},
        "called_first": slow | {"device_cold_predecessors": 1, "unsolicited_callers_7d": 2},
    })
    assert got["successor"] >= 0.7
    assert got["no_predecessor"] < 0.5
    assert got["old_line"] < 0.5 and got["called_first"] < 0.5


# A card opener's new line (its holder a customer for 20 days) cold-calling 20 strangers from a
# car over three counties: too spread for the one-county rules, victims answer now and then.
NEW_HOLDER = {"is_subscriber": 1, "sim_age_days": 20, "holder_age_days": 20, "id_lines": 1,
              "history_days": 7, "distinct_callees_24h": 20, "new_callee_share_24h": 1.0,
              "unanswered_share_24h": 0.3, "callback_share_24h": 0.05,
              "callback_share_7d": 0.05, "in_calls_7d": 2, "distinct_cells_7d": 6,
              "distinct_counties_7d": 3, "distinct_callees_7d": 40, "outgoing_share_7d": 0.95,
              "distinct_imeis_24h": 1}


def test_a_new_holders_cold_line_is_watched_and_reverified_with_a_second_sign() -> None:
    got = _shipped_scores({
        "crew": NEW_HOLDER,
        "crew_in_one_county": NEW_HOLDER | {"distinct_counties_7d": 1, "callback_share_7d": 0.0},
        "old_customer": NEW_HOLDER | {"holder_age_days": 400},  # a customer's new line
        "called_in": NEW_HOLDER | {"in_calls_7d": 12},  # a courier's customers ring back
        "given_out": NEW_HOLDER | {"unsolicited_callers_7d": 2},
        "few": NEW_HOLDER | {"distinct_callees_24h": 8},
    })
    assert 0.5 <= got["crew"] < 0.7  # watched on its own
    assert got["crew_in_one_county"] >= 0.7  # with young_sim_roving_unreturned: re-verified
    assert got["old_customer"] < 0.5 and got["called_in"] < 0.5
    assert got["given_out"] < 0.5 and got["few"] < 0.5


# A slow crew's line: its holder opened two or more lines 30 days ago; it calls three
# strangers a day and nobody calls it.
SLOW_HOLDER = {"is_subscriber": 1, "sim_age_days": 25, "holder_age_days": 30, "id_lines": 2,
               "history_days": 7, "distinct_callees_24h": 3, "new_callee_share_24h": 1.0,
               "outgoing_share_7d": 1.0, "outgoing_share_24h": 1.0, "in_calls_7d": 0,
               "distinct_cells_7d": 1, "distinct_counties_7d": 1, "distinct_imeis_24h": 1}


def test_a_new_holders_slow_line_nobody_calls_reaches_verify() -> None:
    got = _shipped_scores({
        "crew": SLOW_HOLDER,
        "one_line": SLOW_HOLDER | {"id_lines": 1},  # a new customer's only SIM
        "old_customer": SLOW_HOLDER | {"holder_age_days": 400},  # a family's second SIM
        "called": SLOW_HOLDER | {"in_calls_7d": 3, "outgoing_share_7d": 0.6},  # family rings
        "called_first": SLOW_HOLDER | {"unsolicited_callers_7d": 1},
        "old_contacts": SLOW_HOLDER | {"new_callee_share_24h": 0.5},
    })
    assert got["crew"] >= 0.7
    assert max(got["one_line"], got["old_customer"], got["called"], got["called_first"],
               got["old_contacts"]) < 0.5


# A crew's young SIM over four cells of one county, its holder an older customer (a bought
# card), whose victims answer often (so not the mostly-unanswered rules) and never call back.
ROVING = {"is_subscriber": 1, "sim_age_days": 30, "holder_age_days": 300, "history_days": 7,
          "distinct_callees_24h": 14, "new_callee_share_24h": 1.0, "unanswered_share_24h": 0.3,
          "callback_share_24h": 0.0, "callback_share_7d": 0.0, "in_calls_7d": 1,
          "distinct_cells_7d": 4, "distinct_counties_7d": 1, "distinct_callees_7d": 30,
          "outgoing_share_7d": 0.97, "distinct_imeis_24h": 1}


def test_a_young_roving_sim_nobody_calls_back_is_watched() -> None:
    got = _shipped_scores({
        "crew": ROVING,
        # 15 strangers a day from a holder of 30 days: with new_holder_cold_line
        "crew_new_holder": ROVING | {"holder_age_days": 30, "distinct_callees_24h": 16},
        "courier": ROVING | {"distinct_counties_7d": 3},  # couriers cross the province
        "called_back": ROVING | {"callback_share_7d": 0.1, "callback_share_24h": 0.1},
        "old_sim": ROVING | {"sim_age_days": 120},
        "two_cells": ROVING | {"distinct_cells_7d": 2},  # the stationary rules' business
    })
    assert 0.5 <= got["crew"] < 0.7
    assert got["crew_new_holder"] >= 0.7
    assert got["courier"] < 0.5 and got["called_back"] < 0.5 and got["old_sim"] < 0.5
    assert got["two_cells"] >= 0.7  # one or two cells: the stationary rules re-verify it


# Another network's new number calling a dozen of our subscribers, who answer (a convincing
# script) and never call back; nobody of ours called it first.
OFFNET_ANSWERED = {"is_subscriber": 0, "history_days": 7, "interconnect_share_7d": 1.0,
                   "distinct_callees_24h": 12, "new_callee_share_24h": 1.0,
                   "callback_share_24h": 0.0, "callback_share_7d": 0.0, "in_calls_7d": 0,
                   "unanswered_share_24h": 0.2, "first_call_days": 0.5, "out_of_province": 0,
                   "distinct_callees_7d": 12, "outgoing_share_7d": 1.0}


def test_another_networks_new_number_nobody_calls_back_reaches_verify() -> None:
    got = _shipped_scores({
        "fraud": OFFNET_ANSWERED,
        "one_call_in": OFFNET_ANSWERED | {"in_calls_7d": 1},  # a customer rang its courier
        "known": OFFNET_ANSWERED | {"first_call_days": 9.0},  # seen on our network for days
        "known_other_province": OFFNET_ANSWERED | {"first_call_days": 9.0,
                                                   "out_of_province": 1},
        # six in the half day since it was first seen, but a person's pace: 6 / 0.9 a day
        "few": OFFNET_ANSWERED | {"distinct_callees_24h": 6, "first_call_days": 0.9},
    })
    assert got["fraud"] >= 0.7 and got["known_other_province"] >= 0.7
    assert got["one_call_in"] < 0.7 and got["known"] < 0.7 and got["few"] < 0.7



# Another network's number first seen on ours 4 hours ago that has already called four of our
# subscribers, all strangers: under the eight a day the other off-net rules ask for.
OFFNET_FAST = OFFNET_ANSWERED | {"distinct_callees_24h": 4, "distinct_callees_7d": 4,
                                 "first_call_days": 4 / 24, "unanswered_share_24h": 0.5}


def test_another_networks_new_number_calling_strangers_fast_reaches_verify() -> None:
    got = _shipped_scores({
        "fraud": OFFNET_FAST,
        "three": OFFNET_FAST | {"distinct_callees_24h": 3},
        "a_persons_pace": OFFNET_FAST | {"first_call_days": 0.8},  # 4 in 0.8 days: 5 a day
        "one_call_in": OFFNET_FAST | {"in_calls_7d": 1},
        "called_first": OFFNET_FAST | {"unsolicited_callers_7d": 1},
        "a_friend_among_them": OFFNET_FAST | {"new_callee_share_24h": 0.75},
        "lake_just_started": OFFNET_FAST | {"history_days": 1.5},  # everyone is new to it
        "ours": OFFNET_FAST | {"is_subscriber": 1, "sim_age_days": 400},
    })
    assert got["fraud"] >= 0.7
    assert all(v < 0.7 for k, v in got.items() if k != "fraud"), got

def test_a_line_held_half_a_year_is_watched_not_reverified() -> None:
    got = _shipped_scores({
        "young": COLD,
        "half_year": COLD | {"sim_age_days": 200},
        "half_year_goip": COLD | {"sim_age_days": 200, "goip_device_24h": 1},
    })
    assert got["young"] >= 0.7
    assert got["half_year"] == pytest.approx(0.65)
    assert got["half_year_goip"] >= 0.7
