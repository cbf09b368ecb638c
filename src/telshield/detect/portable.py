"""Expressions that give the same value on every Ibis backend detection runs on.

DuckDB's ``epoch_seconds`` keeps a timestamp's fraction of a second; Spark's
(``unix_timestamp``) drops it. Detection counts time in whole seconds, as the feeds' switches
record it, so that a number's age or a bucket is the same on DuckDB and Spark, and divides in
doubles (``docs/scale.md``). Ibis operations with no Spark translation get one here.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir


def epoch_s(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole seconds since 1970-01-01 of a naive timestamp (its fraction of a second dropped)."""
    return ts.epoch_seconds().floor().cast("int64")


def days_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    """Days from ``earlier`` to ``later`` (whole seconds), as a double on every engine. The
    seconds are made a double before dividing: Spark reads the literal ``86400.0`` as a DECIMAL,
    and a BIGINT divided by it is a decimal rounded to six places, not DuckDB's double."""
    return (epoch_s(later) - epoch_s(earlier)).cast("float64") / 86400


def most_common(t: ir.Table, by: Sequence[str], value: str) -> ir.Table:
    """``by..., value``: the most frequent non-null ``value`` of each group of ``by``, the
    smallest of those tied. Ibis's ``mode`` has no Spark translation, and DuckDB's breaks a tie
    by the order it meets the rows in."""
    v = t.filter(t[value].notnull())
    n = v.group_by([*by, value]).agg(_n=v.count())
    rank = ibis.row_number().over(group_by=[n[k] for k in by], order_by=[n._n.desc(), n[value]])
    n = n.mutate(_r=rank)
    return n.filter(n._r == 0).select(*by, value)
