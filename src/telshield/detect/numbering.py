"""Numbering-plan classification of a whole column at once, as a lazy Ibis expression.

The rule is the one ``telshield.domain.numbers.classify`` applies to a single number: the row of
the longest prefix that also admits the number's length wins, and a number that is not canonical
E.164 digits, or that no row admits, is ``invalid``. Here it is one left join per prefix width
on (first W digits, length) against the prefix table, the row ids coalesced longest first, then
one join for the row's attributes: no per-row Python, any engine Ibis targets.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from telshield.domain.numbers import CANONICAL_PATTERN

# Prefix widths in the compiled plan (86 + up to 7 digits for mobile H-codes); pass
# ``NumberingPlan.prefix_lengths`` when a plan has others.
PREFIX_WIDTHS: tuple[int, ...] = (9, 8, 7, 6, 5, 4, 3, 2, 1)
ATTRIBUTES = ("kind", "operator", "province", "city", "country", "virtual")


def classify(
    table: ir.Table,
    column: str,
    plan: ir.Table,
    *,
    prefix: str | None = None,
    widths: Sequence[int] = PREFIX_WIDTHS,
) -> ir.Table:
    """``table`` with ``<prefix>_kind, _operator, _province, _city, _country, _virtual`` added.

    ``plan`` is the prefix table (``telshield.reference.numbering.PLAN_SCHEMA``); ``prefix``
    defaults to ``column``. A null number gets null attributes; one that matches nothing gets
    kind ``invalid``, operator ``unknown`` and ``virtual`` false.
    """
    out = prefix or column
    number = table[column]
    n_col, ok_col = f"__{out}_n", f"__{out}_ok"
    t = table.mutate(
        **{n_col: number.length().cast("int16"), ok_col: number.re_search(CANONICAL_PATTERN)}
    )
    id_cols = []
    for width in sorted(set(widths), reverse=True):
        key, length, row = f"__{out}_k{width}", f"__{out}_l{width}", f"__{out}_r{width}"
        rows = plan.filter(plan.prefix.length() == width)
        rows = rows.select(
            **{key: rows.prefix, length: rows.length.cast("int16"), row: rows.row_id}
        )
        t = t.left_join(
            rows,
            [t[ok_col], t[column].substr(0, width) == rows[key], t[n_col] == rows[length]],
        ).drop(key, length)
        id_cols.append(row)
    row_id = f"__{out}_row"
    t = t.mutate(**{row_id: ibis.coalesce(*[t[c] for c in id_cols])}).drop(*id_cols)
    attrs = plan.select(
        **{f"__{out}_id": plan.row_id}, **{f"__{out}_{a}": plan[a] for a in ATTRIBUTES}
    )
    t = t.left_join(attrs, t[row_id] == attrs[f"__{out}_id"])
    missing = t[column].isnull()
    values = {
        "kind": t[f"__{out}_kind"].fill_null("invalid"),
        "operator": t[f"__{out}_operator"].fill_null("unknown"),
        "province": t[f"__{out}_province"],
        "city": t[f"__{out}_city"],
        "country": t[f"__{out}_country"],
        "virtual": t[f"__{out}_virtual"].fill_null(False),
    }
    new = {
        f"{out}_{a}": ibis.ifelse(missing, ibis.null(v.type()), v) for a, v in values.items()
    }
    return t.select(*table.columns, **new)


def out_of_province(
    numbers: ir.Table,
    column: str,
    plan: ir.Table,
    *,
    province: str,
    widths: Sequence[int] = PREFIX_WIDTHS,
) -> ir.Table:
    """Distinct ``column`` values with ``out_of_province``: 1 when the plan puts a mobile or fixed
    number's home outside ``province``, 0 inside, null when the plan has no home for it."""
    distinct = numbers.select(column).distinct()
    c = classify(distinct, column, plan, prefix="__home", widths=widths)
    home = c["__home_province"]
    flag = ibis.ifelse(home.isnull(), ibis.null("int64"), ibis.ifelse(home == province, 0, 1))
    return c.select(column, out_of_province=flag.cast("int64"))
