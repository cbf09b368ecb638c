"""The numbering plan built from the same metadata classifies the simulator's numbers as meant."""

from __future__ import annotations

from pathlib import Path

import ibis
import pyarrow.parquet as pq

from telshield.detect.numbering import classify
from telshield.reference.numbering import build_plan_rows, rows_to_table

OPERATOR = {"China Mobile": "china_mobile", "China Unicom": "china_unicom",
            "China Telecom": "china_telecom", "China Broadnet": "china_broadnet"}


def test_plan_agrees_with_the_numbers_the_simulator_drew(small: Path) -> None:
    con = ibis.duckdb.connect()
    numbers = con.read_parquet(small / "truth" / "numbers.parquet")
    plan = ibis.memtable(rows_to_table(build_plan_rows()))
    df = classify(numbers, "msisdn", plan, prefix="n").execute()
    assert (df["n_kind"] != "invalid").all()
    # A ported number's segment is another carrier's than the one serving it (test_portability).
    ported = pq.read_table(small / "ported").column("msisdn").to_pylist()
    assert ported
    mobile = df[df["operator"].isin(list(OPERATOR)) & ~df["msisdn"].isin(ported)]
    assert (mobile["n_kind"] == "mobile").all()
    assert (mobile["operator"].map(OPERATOR) == mobile["n_operator"]).all()
    ours = df[df["ours"]]
    assert (ours["n_operator"] == "china_mobile").all()
    assert (ours["n_province"] == "Jiangsu").all()
    visitors = df[df["role"] == "visitor"]
    assert len(visitors) and (visitors["n_province"] != "Jiangsu").all()
    assert (df.loc[df["operator"] == "foreign", "n_kind"] == "international").all()
    assert set(df.loc[df["operator"].isna(), "n_kind"]) <= {"fixed", "service"}
