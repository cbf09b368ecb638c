"""Validate a chunk of feed rows in one vectorised DuckDB pass.

Each row gets every problem found (``field: reason`` joined by ';'); a row with none is typed
into the feed's Arrow schema, a row with any goes to quarantine with its original values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from telshield.feeds.schemas import Check, Column, Feed

# The reasons a value can be rejected for; docs/feeds.md explains each.
REASONS = {
    "missing_required": "a required field is empty",
    "bad_type": "not a valid integer, decimal or timestamp",
    "out_of_range": "a number outside the field's allowed range",
    "timestamp_out_of_range": "a timestamp before the earliest allowed or too far in the future",
    "bad_number": "not an E.164 number (3-15 digits, optional leading '+')",
    "bad_hash": "not a 64-hex HMAC-SHA256 digest",
    "bad_imei": "not an IMEI (14-16 digits)",
    "bad_imsi": "not an IMSI (15 digits)",
    "bad_tac": "not a TAC (8 digits)",
    "bad_ip": "not an IPv4 or IPv6 address",
    "bad_enum": "a value outside the field's allowed values",
    "bad_interval": "an end before its start",
    "wrong_column_count": "the record has too many or too few fields",
    "bad_encoding": "the record is not valid UTF-8",
    "duplicate_key": "the key was already seen earlier in this ingest",
}

_PATTERNS = {
    Check.NUMBER: (r"^\+?[0-9]{3,15}$", "bad_number"),
    Check.HASH: (r"^[0-9a-f]{64}$", "bad_hash"),
    Check.IMEI: (r"^[0-9]{14,16}$", "bad_imei"),
    Check.IMSI: (r"^[0-9]{15}$", "bad_imsi"),
    Check.TAC: (r"^[0-9]{8}$", "bad_tac"),
    Check.IP: (r"^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$", "bad_ip"),
}

FAR_FUTURE = datetime(2199, 12, 31)

_SQL_TYPES = {Check.INT: "INTEGER", Check.FLOAT: "DOUBLE", Check.TIMESTAMP: "TIMESTAMP"}


@dataclass(frozen=True)
class Bounds:
    """The sane range for timestamps, fixed for one ingest run."""

    earliest: datetime
    latest: datetime

    @classmethod
    def around(cls, now: datetime, earliest: str, future_slack_days: int) -> Bounds:
        """Timestamps from ``earliest`` up to ``future_slack_days`` after ``now``."""
        return cls(datetime.fromisoformat(earliest), now + timedelta(days=future_slack_days))


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _typed(c: Column) -> str:
    """SQL turning the raw value into its typed value (NULL when it does not parse)."""
    col = _q(c.name)
    if c.check in _SQL_TYPES:
        return f"TRY_CAST({col} AS {_SQL_TYPES[c.check]})"
    text = f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"
    if c.check == Check.NUMBER:
        return (
            f"CASE WHEN regexp_full_match({text}, {_lit(_PATTERNS[c.check][0])}) "
            f"THEN ltrim({text}, '+') END"
        )
    if c.check in _PATTERNS:
        return f"CASE WHEN regexp_full_match({text}, {_lit(_PATTERNS[c.check][0])}) THEN {text} END"
    return text


def _problems(c: Column, bounds: Bounds) -> list[str]:
    """SQL CASE expressions, each yielding 'field: reason' or NULL."""
    col, typed, tag = _q(c.name), f"t_{c.name}", lambda r: _lit(f"{c.name}: {r}")
    raw_present = f"NULLIF(trim(CAST({col} AS VARCHAR)), '') IS NOT NULL"
    out = []
    if c.required:
        out.append(f"CASE WHEN NOT ({raw_present}) THEN {tag('missing_required')} END")
    bad = "bad_type" if c.check in _SQL_TYPES else _PATTERNS.get(c.check, ("", ""))[1]
    if bad:
        out.append(f"CASE WHEN {raw_present} AND {_q(typed)} IS NULL THEN {tag(bad)} END")
    if c.lo is not None:
        out.append(f"CASE WHEN {_q(typed)} < {c.lo} THEN {tag('out_of_range')} END")
    if c.hi is not None:
        out.append(f"CASE WHEN {_q(typed)} > {c.hi} THEN {tag('out_of_range')} END")
    if c.check == Check.TIMESTAMP:
        lo = bounds.earliest.isoformat(sep=" ")
        hi = (FAR_FUTURE if c.future_ok else bounds.latest).isoformat(sep=" ")
        out.append(
            f"CASE WHEN {_q(typed)} < TIMESTAMP {_lit(lo)} OR {_q(typed)} > TIMESTAMP {_lit(hi)}"
            f" THEN {tag('timestamp_out_of_range')} END"
        )
    if c.check == Check.ENUM:
        allowed = ", ".join(_lit(v) for v in c.values)
        out.append(
            f"CASE WHEN {_q(typed)} IS NOT NULL AND {_q(typed)} NOT IN ({allowed})"
            f" THEN {tag('bad_enum')} END"
        )
    return out


def _feed_problems(feed: Feed) -> list[str]:
    """Checks across fields of one row."""
    if feed.name == "sanctions":
        return ["CASE WHEN t_ends_at < t_starts_at THEN 'ends_at: bad_interval' END"]
    return []


def validation_sql(feed: Feed, bounds: Bounds, source: str = "raw") -> str:
    """The query typing every column and listing every problem of each row of ``source``."""
    typed = ", ".join(f"{_typed(c)} AS {_q('t_' + c.name)}" for c in feed.columns)
    checks = [p for c in feed.columns for p in _problems(c, bounds)] + _feed_problems(feed)
    return (
        f"WITH t AS (SELECT *, {typed} FROM {source}) "
        f"SELECT {', '.join(_q('t_' + c.name) for c in feed.columns)}, "
        f"concat_ws('; ', {', '.join(checks)}) AS _problems FROM t"
    )


@dataclass
class Checked:
    """A validated chunk: typed good rows, and the mask and problems of the bad ones."""

    good: pa.Table  # the feed's schema
    good_mask: pa.Array  # bool per input row
    problems: pa.Array  # string per input row ('' when good)


def check_chunk(
    con: duckdb.DuckDBPyConnection, feed: Feed, raw: pa.Table, bounds: Bounds
) -> Checked:
    """Type and check one chunk; row order is kept."""
    con.register("raw", raw)
    try:
        out = con.sql(validation_sql(feed, bounds)).to_arrow_table()
    finally:
        con.unregister("raw")
    problems = out.column("_problems").combine_chunks()
    ok = pc.equal(problems, "")
    typed = out.drop_columns(["_problems"]).rename_columns(feed.column_names)
    good = typed.filter(ok).cast(feed.schema)
    return Checked(good, ok, problems)
