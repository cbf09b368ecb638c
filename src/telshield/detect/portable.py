"""Expressions that give the same value on every Ibis backend detection runs on.

DuckDB's ``epoch_seconds`` keeps a timestamp's fraction of a second; Spark's
(``unix_timestamp``) drops it. Detection counts time in whole seconds, as the feeds' switches
record it, so that a number's age or a bucket is the same on DuckDB and Spark
(``docs/scale.md``).
"""

from __future__ import annotations

import ibis.expr.types as ir


def epoch_s(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole seconds since 1970-01-01 of a naive timestamp (its fraction of a second dropped)."""
    return ts.epoch_seconds().floor().cast("int64")
