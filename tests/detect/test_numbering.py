"""The vectorised classifier gives, row for row, what the single-number law gives."""

from __future__ import annotations

import random

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from telshield.detect.numbering import classify, out_of_province
from telshield.domain.numbers import NumberingPlan, NumberKind, Operator
from telshield.domain.numbers import classify as classify_one
from telshield.reference.numbering import build_plan_rows, plan_from_table, rows_to_table


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return rows_to_table(build_plan_rows())


@pytest.fixture(scope="module")
def plan(table: pa.Table) -> NumberingPlan:
    return plan_from_table(table)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def generated_numbers(n: int, seed: int = 3) -> list[str | None]:
    """Many numbers of every kind, and every way of being wrong."""
    rng = random.Random(seed)
    makers = [
        lambda: f"861{rng.randint(3, 9)}{_digits(rng, 9)}",  # mobile, some unallocated
        lambda: "86" + rng.choice(["1703", "1705", "1707", "162", "165", "167", "171"])
        + _digits(rng, 7),  # virtual operators
        lambda: "86" + rng.choice(["10", "21", "25", "512", "516", "951", "335"])
        + _digits(rng, rng.choice([7, 8])),  # fixed lines
        lambda: "86" + rng.choice(["95588", "110", "10086", "10099", "12381", "96110",
                                   "4008001234", "2512345", "95105888", "1069012345678"]),
        lambda: rng.choice(["852", "1", "44", "886", "7", "999"])
        + _digits(rng, rng.randint(5, 11)),
        lambda: rng.choice(["", "0", "8695abc", "86-138", "12", "0086138", "+8613812345678"]),
        lambda: _digits(rng, rng.randint(1, 16)),
        lambda: None,
    ]
    return [rng.choice(makers)() for _ in range(n)]


def test_vectorised_equals_single_number_classification(
    table: pa.Table, plan: NumberingPlan
) -> None:
    numbers = generated_numbers(6000)
    t = ibis.memtable(pa.table({"i": list(range(len(numbers))), "caller": numbers}))
    got = ibis.duckdb.connect().execute(classify(t, "caller", ibis.memtable(table)))
    got = got.sort_values("i").reset_index(drop=True)
    assert len(got) == len(numbers), "the join neither drops nor duplicates rows"
    seen_kinds, seen_ops = set(), set()
    for number, row in zip(numbers, got.itertuples(index=False), strict=True):
        assert row.caller == number or (number is None and pd.isna(row.caller))
        if number is None:
            assert pd.isna(row.caller_kind)
            continue
        want = classify_one(number, plan)
        have = (row.caller_kind, row.caller_operator, _none(row.caller_province),
                _none(row.caller_city), _none(row.caller_country), bool(row.caller_virtual))
        assert have == (want.kind.value, want.operator.value, want.province, want.city,
                        want.country, want.virtual), number
        seen_kinds.add(want.kind)
        seen_ops.add(want.operator)
    assert seen_kinds == set(NumberKind)
    assert seen_ops == set(Operator)


def _none(value: object) -> object:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def test_prefix_names_the_new_columns(table: pa.Table) -> None:
    t = ibis.memtable({"callee": ["8613812345678"]})
    e = classify(t, "callee", ibis.memtable(table), prefix="b")
    assert e.columns == ("callee", "b_kind", "b_operator", "b_province", "b_city", "b_country",
                         "b_virtual")


def test_out_of_province(table: pa.Table) -> None:
    t = ibis.memtable({"msisdn": ["8613812345678", "8613812345678", "862584001234",
                                  "869511234567", "8695588", "85291234567", "junk"]})
    got = ibis.duckdb.connect().execute(
        out_of_province(t, "msisdn", ibis.memtable(table), province="Jiangsu")
    )
    flags = dict(zip(got.msisdn, got.out_of_province, strict=True))
    assert len(got) == 6, "one row per distinct number"
    assert flags["8613812345678"] == 0 and flags["862584001234"] == 0
    assert flags["869511234567"] == 1  # Yinchuan, Ningxia
    assert all(pd.isna(flags[n]) for n in ("8695588", "85291234567", "junk"))
