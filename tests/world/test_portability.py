"""Number portability and interconnect trunks: the ``ported`` feed and the calls' ingress carrier.

Ported numbers come from another carrier's segment than the one serving them; every call over
interconnect says whose trunk it came on — an honest caller's serving carrier (ported or not), a
spoofed call's entry carrier, drawn per presented number — and no other call does.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

import duckdb
import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from telshield.detect.numbering import classify
from telshield.reference.numbering import build_plan_rows, rows_to_table
from telshield.world.config import load_config
from telshield.world.generate import generate
from telshield.world.portability import MNP_START, PORTABLE_ROLES

OPERATOR = {"China Mobile": "china_mobile", "China Unicom": "china_unicom",
            "China Telecom": "china_telecom", "China Broadnet": "china_broadnet"}
START = "2026-11-10 00:00:00"  # the small province's window
# Many spoofed calls, all over interconnect, mostly presenting mobiles (a third of them real
# subscribers of ours): enough presented numbers to measure the entry carrier's share.
SPOOFING = """[spoofing]
presented_numbers_per_100k = 20000
calls_per_100k_per_day = 40000
international_share = 0.0
mobile_share = 0.8
landline_share = 0.1
real_subscriber_share = 0.3
"""


@cache
def _plan() -> pa.Table:
    return rows_to_table(build_plan_rows())


def _plan_carriers(numbers: list[str]) -> dict[str, str]:
    """The carrier each number's segment is allocated to, as the numbering plan says."""
    t = ibis.memtable(pa.table({"number": pa.array(sorted(set(numbers)), pa.string())}))
    plan = ibis.memtable(_plan())
    df = classify(t, "number", plan, prefix="n").select("number", "n_operator").to_pyarrow()
    return dict(zip(df["number"].to_pylist(), df["n_operator"].to_pylist(), strict=True))


def _db(world: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for feed in ("calls", "ported", "subscribers"):
        con.execute(f"CREATE VIEW {feed} AS SELECT * FROM read_parquet('{world / feed}/*.parquet')")
    for t in ("numbers", "calls"):
        con.execute(f"CREATE VIEW truth_{t} AS SELECT * FROM '{world / 'truth' / t}.parquet'")
    return con


def test_ported_numbers_are_other_networks_numbers_of_another_carriers_segment(
    small: Path,
) -> None:
    con = _db(small)
    rows = con.execute("""SELECT p.msisdn, p.carrier, p.ported_at, n.role, n.ours, n.operator,
        n.home FROM ported p LEFT JOIN truth_numbers n USING (msisdn)""").fetchall()
    assert len(rows) == len({r[0] for r in rows}) > 10
    plan = _plan_carriers([r[0] for r in rows])
    out_of_ours = 0
    for msisdn, carrier, at, role, ours, operator, home in rows:
        assert plan[msisdn] != carrier, msisdn  # the segment is another carrier's
        assert plan[msisdn] in OPERATOR.values(), msisdn
        assert OPERATOR[operator] == carrier and not ours and role in PORTABLE_ROLES, msisdn
        assert MNP_START <= at < datetime.fromisoformat(START), msisdn
        out_of_ours += plan[msisdn] == "china_mobile" and home != "other province"
    assert out_of_ours > 0  # Jiangsu numbers ported out of China Mobile
    # Our subscribers never port, and no ported number is also someone else's.
    assert con.execute("SELECT count(*) FROM ported JOIN subscribers USING (msisdn)").fetchone() \
        == (0,)
    portable = con.execute(f"""SELECT count(*) FROM truth_numbers WHERE NOT ours AND role IN
        {PORTABLE_ROLES} AND operator IN ('China Mobile', 'China Unicom', 'China Telecom',
        'China Broadnet') AND NOT (operator = 'China Mobile' AND home <> 'other province')
        """).fetchone()
    assert portable is not None
    assert 0.01 < len(rows) / portable[0] < 0.06  # ported_share 0.03


def test_only_interconnect_calls_name_a_carrier(small: Path) -> None:
    con = _db(small)
    got = dict(con.execute("""SELECT ingress, count(*) FILTER (WHERE ingress_carrier IS NULL)
        * 1.0 / count(*) FROM calls GROUP BY ingress""").fetchall())
    assert got == {"radio": 1.0, "international": 1.0, "interconnect": 0.0}


def test_honest_callers_come_on_their_serving_carriers_trunk(small: Path) -> None:
    con = _db(small)
    rows = con.execute("""SELECT c.caller, c.ingress_carrier, p.carrier
        FROM calls c JOIN truth_calls t USING (call_id) LEFT JOIN ported p ON p.msisdn = c.caller
        WHERE c.ingress = 'interconnect' AND NOT (t.is_fraud AND t.scenario = 'spoofed')
        """).fetchall()
    plan = _plan_carriers([r[0] for r in rows])
    wrong = [r for r in rows if r[1] != (r[2] or plan[r[0]])]
    assert rows and wrong == []
    ported = [r for r in rows if r[2] is not None]
    assert ported and all(r[1] != plan[r[0]] for r in ported)  # what a naive check refuses
    # Other provinces' China Mobile subscribers come on China Mobile's inter-province trunks.
    assert any(c == "china_mobile" for _, c, _ in rows)


@pytest.fixture(scope="module")
def spoofed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("spoofing")
    (base / "w.toml").write_text(SPOOFING)
    generate(load_config(base / "w.toml", subscribers=1000, days=2, start=START), 8, base / "w")
    return base / "w"


def test_spoofers_enter_per_presented_number_on_the_serving_carrier_at_the_stated_share(
    spoofed: Path,
) -> None:
    con = _db(spoofed)
    rows = con.execute("""SELECT c.caller, list(DISTINCT c.ingress_carrier)
        FROM calls c JOIN truth_calls t USING (call_id)
        WHERE t.is_fraud AND t.scenario = 'spoofed' GROUP BY c.caller""").fetchall()
    assert all(len(carriers) == 1 for _, carriers in rows)  # one entry per presented number
    plan = _plan_carriers([r[0] for r in rows])
    mobiles = [(plan[n], c[0]) for n, c in rows if plan[n] in OPERATOR.values()]
    others = [c[0] for n, c in rows if plan[n] not in OPERATOR.values()]
    assert len(mobiles) > 150 and len(others) > 10
    share = sum(serving == entry for serving, entry in mobiles) / len(mobiles)
    assert 0.2 < share < 0.4  # entry_matches_share = 0.3
    assert len({entry for serving, entry in mobiles if serving != entry}) >= 3
    assert len(set(others)) >= 3  # landlines and service numbers: any carrier


def test_porting_changes_only_the_ported_numbers(tmp_path: Path) -> None:
    (tmp_path / "none.toml").write_text("[portability]\nported_share = 0.0\n")
    kw = {"subscribers": 600, "days": 2, "start": START}
    generate(load_config(None, **kw), 2, tmp_path / "with")
    generate(load_config(tmp_path / "none.toml", **kw), 2, tmp_path / "without")
    before = pq.read_table(tmp_path / "without" / "truth" / "numbers.parquet")
    after = pq.read_table(tmp_path / "with" / "truth" / "numbers.parquet")
    assert before.drop(["msisdn"]).equals(after.drop(["msisdn"]))
    moved = {a: b for a, b in zip(before["msisdn"].to_pylist(), after["msisdn"].to_pylist(),
                                  strict=True) if a != b}
    ported = pq.read_table(tmp_path / "with" / "ported")
    assert pq.read_table(tmp_path / "without" / "ported").num_rows == 0
    assert sorted(moved.values()) == ported["msisdn"].to_pylist() != []
    for f in sorted((tmp_path / "with").rglob("*.parquet")):
        rel = f.relative_to(tmp_path / "with")
        if rel.parts[0] == "ported":
            continue
        a, b = pq.read_table(tmp_path / "without" / rel), pq.read_table(f)
        assert a.num_rows == b.num_rows, rel
        for name in a.column_names:
            old = a[name].to_pylist()
            if name in ("caller", "callee", "sender", "receiver", "msisdn", "contact_msisdn"):
                old = [moved.get(x, x) for x in old]
            if name == "msisdns":
                old = [sorted(moved.get(x, x) for x in v) for v in old]
                assert old == [sorted(v) for v in b[name].to_pylist()], (rel, name)
                continue
            assert old == b[name].to_pylist(), (rel, name)
