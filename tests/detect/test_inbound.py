"""Inbound features: distinct callers over the international gateway, per callee, in 24 h."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
from tests.detect.calls import calls_before

from telshield.detect.inbound import detection_feature_names, inbound_features
from telshield.detect.rules import parse_rules, rule_hits

UNTIL = datetime(2026, 11, 5, 12)
RELAY, PERSON = "8613900000001", "8613900000002"


def _calls(rows: list[tuple[float, str, str, str]]) -> ibis.Table:
    """(hours before UNTIL, caller, callee, ingress) -> a calls table."""
    return calls_before(UNTIL, [(h, a, b, ingress, None) for h, a, b, ingress in rows])


def test_counts_distinct_foreign_callers_in_the_day() -> None:
    rows = [(h, f"85512345{i:04d}", RELAY, "international") for i, h in enumerate(
        [0.5, 1, 2, 3, 5, 8])]
    rows += [(1.5, "855123450000", RELAY, "international")]  # the same caller again
    rows += [(30, "855999990000", RELAY, "international")]  # more than 24 h before
    rows += [(2, "8613800000009", RELAY, "radio")]  # not over the gateway
    rows += [(4, "85212345678", PERSON, "international")]
    con = ibis.duckdb.connect()
    got = con.execute(inbound_features(_calls(rows), until=UNTIL))
    assert dict(zip(got["msisdn"], got["foreign_callers_24h"], strict=True)) == {
        RELAY: 6, PERSON: 1}

    # Incremental: only numbers called since the previous run.
    later = con.execute(inbound_features(_calls(rows), until=UNTIL,
                                         active_since=UNTIL - timedelta(hours=2)))
    assert later["msisdn"].tolist() == [RELAY]


def test_rules_may_name_inbound_features() -> None:
    rules = parse_rules('version = "t"\n[[rules]]\nname = "relay"\n'
                        'when = "foreign_callers_24h >= 5"\nweight = 0.9\nreason = "r"\n',
                        detection_feature_names())
    frame = ibis.memtable({"msisdn": [RELAY, PERSON], "foreign_callers_24h": [6, 1]})
    hits = ibis.duckdb.connect().execute(rule_hits(frame, rules))
    assert hits.set_index("msisdn")["rule_score"].round(2).to_dict() == {RELAY: 0.9, PERSON: 0.0}
