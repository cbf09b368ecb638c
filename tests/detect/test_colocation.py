"""Co-location: other one-way callers on a number's cell in the last 24 h."""

from __future__ import annotations

from datetime import datetime

import ibis
from tests.detect.calls import calls_before

from telshield.detect.colocation import colocation_features

UNTIL = datetime(2026, 11, 5, 12)
PORTS = [f"86139000000{i:02d}" for i in range(4)]  # a den's ports on cell D
NEIGHBOUR, FRIEND, MOVER = "8613800000001", "8613800000002", "8613800000003"


def _calls(rows: list[tuple[float, str, str, str | None]]) -> ibis.Table:
    """(hours before UNTIL, caller, callee, caller cell) -> a calls table."""
    return calls_before(UNTIL, [(h, a, b, "radio", cell) for h, a, b, cell in rows], 30)


def test_counts_other_one_way_callers_on_the_cell() -> None:
    rows = [(1 + k / 10, port, f"86137{p:02d}{k:06d}", "D")
            for p, port in enumerate(PORTS) for k in range(6)]  # 6 strangers each, no calls in
    rows += [(2, NEIGHBOUR, FRIEND, "D"), (3, FRIEND, NEIGHBOUR, "E")]  # people who talk
    rows += [(4, MOVER, f"8613600000{k:03d}", "E") for k in range(6)]  # one-way, elsewhere
    rows += [(5, MOVER, "8613600000999", "D")]
    rows += [(30, PORTS[0], "8613500000000", "D")]  # a day and more ago: not counted
    got = ibis.duckdb.connect().execute(colocation_features(_calls(rows), until=UNTIL))
    value = dict(zip(got["msisdn"], got["cell_one_way_callers_24h"], strict=True))
    # Each port sees the three other ports (and MOVER, who also called from D) on D.
    assert {p: value[p] for p in PORTS} == dict.fromkeys(PORTS, 4)
    assert value[NEIGHBOUR] == 5  # four ports and MOVER on D
    assert value[FRIEND] == 1  # MOVER on E
    assert value[MOVER] == 4  # its best cell, D: the four ports
    assert PORTS[0] in value and "8613500000000" not in value


def test_a_callee_is_not_one_way() -> None:
    rows = [(1, PORTS[0], f"8613700000{k:03d}", "D") for k in range(6)]
    rows += [(1, PORTS[1], f"8613710000{k:03d}", "D") for k in range(6)]
    rows += [(2, "8613700000000", PORTS[1], "E")]  # someone called PORTS[1] back
    got = ibis.duckdb.connect().execute(colocation_features(_calls(rows), until=UNTIL))
    value = dict(zip(got["msisdn"], got["cell_one_way_callers_24h"], strict=True))
    assert value[PORTS[1]] == 1 and value[PORTS[0]] == 0
