"""Validate a chunk of feed rows in one vectorised DuckDB pass.

Each row gets every problem found (``field: reason`` joined by ';'); a row with none is typed
into the feed's Arrow schema, a row with any goes to quarantine with its original values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from telshield.domain.numbers import CANONICAL_DIGITS
from telshield.reference.schemas import Check, Column, Feed

# The reasons a value can be rejected for; docs/feeds.md explains each.
REASONS = {
    "missing_required": "a required field is empty",
    "bad_type": "not a whole number (an integer field), a decimal, or a timestamp "
                "'YYYY-MM-DD HH:MM:SS' (an offset such as +00:00 or Z is converted to China "
                "Standard Time)",
    "control_character": "a text field holds a control character (NUL, BEL, ESC, ...)",
    "field_too_long": "a field (or the whole line) is longer than ingest.max_field_bytes "
                      "(ingest.max_line_bytes)",
    "out_of_range": "a number outside the field's allowed range",
    "timestamp_out_of_range": "a timestamp before the earliest allowed or too far in the future",
    "bad_number": "not an E.164 number (3-15 digits, the first not 0, optional leading '+')",
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
    Check.NUMBER: (rf"^\+?{CANONICAL_DIGITS}$", "bad_number"),  # domain.numbers.is_canonical
    Check.HASH: (r"^[0-9a-f]{64}$", "bad_hash"),
    Check.IMEI: (r"^[0-9]{14,16}$", "bad_imei"),
    Check.IMSI: (r"^[0-9]{15}$", "bad_imsi"),
    Check.TAC: (r"^[0-9]{8}$", "bad_tac"),
    Check.IP: (r"^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$", "bad_ip"),
}

FAR_FUTURE = datetime(2199, 12, 31)

ROW_FAILS = "a row fails a check"  # the error that stops a direct write (see direct_sql)

_SQL_TYPES = {Check.INT: "INTEGER", Check.FLOAT: "DOUBLE", Check.TIMESTAMP: "TIMESTAMP"}
# What a CSV reader may parse itself on the direct path: DuckDB's reader rounds '5.5' and reads
# '1e3' or '0x10' as integers, so integers are always read as text and checked here.
_READER_TYPES = {Check.FLOAT: "DOUBLE", Check.TIMESTAMP: "TIMESTAMP"}

_INT = r"^[+-]?[0-9]+$"
_LOCAL = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?"
# A moment with a UTC offset: group 1 the local part, group 5 the zone (Z, +HH, +HHMM, +HH:MM).
_ZONED = (r"^([0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)"
          r"( ?)(Z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)$")
_CONTROL = "[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
FEED_OFFSET_S = 8 * 3600  # feed time is China Standard Time (UTC+8): domain.clock.FEED_OFFSET


@dataclass(frozen=True)
class Bounds:
    """The sane range for timestamps and the longest text field, fixed for one ingest run."""

    earliest: datetime
    latest: datetime
    max_field_bytes: int = 131_072  # a longer text field is quarantined (field_too_long)

    @classmethod
    def around(cls, now: datetime, earliest: str, future_slack_days: int,
               max_field_bytes: int = 131_072) -> Bounds:
        """Timestamps from ``earliest`` up to ``future_slack_days`` after ``now``."""
        return cls(datetime.fromisoformat(earliest), now + timedelta(days=future_slack_days),
                   max_field_bytes)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def source_types(feed: Feed) -> dict[str, str]:
    """The SQL type of each column that a reader may parse itself (see ``direct_sql``)."""
    return {c.name: _READER_TYPES[c.check] for c in feed.columns if c.check in _READER_TYPES}


def _int(col: str) -> str:
    """An integer only from a whole number: stored as one, or written as digits."""
    text = f"NULLIF(CAST({col} AS VARCHAR), '')"
    return (f"CASE WHEN typeof({col}) LIKE '%INT%' THEN TRY_CAST({col} AS INTEGER) "
            f"WHEN regexp_full_match({text}, {_lit(_INT)}) THEN TRY_CAST({text} AS INTEGER) END")


def _timestamp(col: str) -> str:
    """A feed-time moment: stored as a timestamp, written 'YYYY-MM-DD[ HH:MM[:SS[.f]]]', or
    written with a UTC offset and converted to China Standard Time (never dropped)."""
    text = f"NULLIF(CAST({col} AS VARCHAR), '')"
    zone = f"regexp_extract({text}, {_lit(_ZONED)}, 5)"
    digits = f"replace(substr({zone}, 2), ':', '')"
    offset = (f"(CASE WHEN {zone} = 'Z' THEN 0 ELSE (CASE WHEN left({zone}, 1) = '-' THEN -1 "
              f"ELSE 1 END) * (CAST(left({digits}, 2) AS INTEGER) * 3600 + CASE WHEN "
              f"length({digits}) = 4 THEN CAST(right({digits}, 2) AS INTEGER) * 60 ELSE 0 END) "
              "END)")
    local = f"TRY_CAST(regexp_extract({text}, {_lit(_ZONED)}, 1) AS TIMESTAMP)"
    return (f"CASE WHEN typeof({col}) = 'TIMESTAMP' THEN TRY_CAST({col} AS TIMESTAMP) "
            f"WHEN regexp_full_match({text}, {_lit('^' + _LOCAL + '$')}) "
            f"THEN TRY_CAST({text} AS TIMESTAMP) "
            f"WHEN regexp_full_match({text}, {_lit(_ZONED)}) "
            f"THEN {local} + to_seconds({FEED_OFFSET_S} - {offset}) END")


def _typed(c: Column, read_typed: bool) -> str:
    """SQL turning the raw value into its typed value (NULL when it does not parse)."""
    col = _q(c.name)
    if read_typed and c.check in _READER_TYPES:
        return col
    if c.check == Check.INT:
        return _int(col)
    if c.check == Check.TIMESTAMP:
        return _timestamp(col)
    if c.check in _SQL_TYPES:
        return f"TRY_CAST({col} AS {_SQL_TYPES[c.check]})"
    text = f"NULLIF(CAST({col} AS VARCHAR), '')"
    if c.check == Check.NUMBER:
        return (
            f"CASE WHEN regexp_full_match({text}, '{CANONICAL_DIGITS}') THEN {text} "
            f"WHEN regexp_full_match({text}, '\\+{CANONICAL_DIGITS}') THEN substr({text}, 2) END"
        )
    if c.check in _PATTERNS:
        return f"CASE WHEN regexp_full_match({text}, {_lit(_PATTERNS[c.check][0])}) THEN {text} END"
    return text


def _problems(c: Column, bounds: Bounds, read_typed: bool) -> list[tuple[str, str]]:
    """(condition, 'field: reason') pairs: the row has the problem when the condition holds."""
    typed = _q(f"t_{c.name}")
    pre = read_typed and c.check in _READER_TYPES  # parsed by the reader: a bad value failed
    raw_present = f"{_q(c.name)} IS NOT NULL" if pre else (
        f"NULLIF(CAST({_q(c.name)} AS VARCHAR), '') IS NOT NULL"
    )
    out = []
    if c.required:
        out.append((f"NOT ({raw_present})", "missing_required"))
    bad = "bad_type" if c.check in _SQL_TYPES else _PATTERNS.get(c.check, ("", ""))[1]
    if pre:
        bad = ""
    if bad:
        out.append((f"{typed} IS NULL AND {raw_present}", bad))
    if c.lo is not None:
        out.append((f"{typed} < {c.lo}", "out_of_range"))
    if c.hi is not None:
        out.append((f"{typed} > {c.hi}", "out_of_range"))
    if c.check == Check.TIMESTAMP:
        lo = bounds.earliest.isoformat(sep=" ")
        hi = (FAR_FUTURE if c.future_ok else bounds.latest).isoformat(sep=" ")
        out.append(
            (f"{typed} < TIMESTAMP {_lit(lo)} OR {typed} > TIMESTAMP {_lit(hi)}",
             "timestamp_out_of_range")
        )
    if c.check == Check.ENUM:
        allowed = ", ".join(_lit(v) for v in c.values)
        out.append((f"{typed} NOT IN ({allowed})", "bad_enum"))
    if c.check == Check.TEXT and not read_typed:
        # A CSV read on the direct path is scanned as a whole instead (``readers.scan_text``):
        # one with a control byte or a line longer than a field may be takes the exact path,
        # which checks each field here.
        out.append((f"regexp_matches({typed}, {_lit(_CONTROL)})", "control_character"))
        out.append((f"strlen({typed}) > {bounds.max_field_bytes}", "field_too_long"))
    return [(cond, f"{c.name}: {reason}") for cond, reason in out]


def _feed_problems(feed: Feed) -> list[tuple[str, str]]:
    """Checks across fields of one row."""
    if feed.name == "sanctions":
        return [("t_ends_at < t_starts_at", "ends_at: bad_interval")]
    return []


def _checked(
    feed: Feed, bounds: Bounds, source: str, read_typed: bool = False
) -> tuple[str, str, list[tuple[str, str]]]:
    """The typed columns of ``source`` (``t_<name>``) as a CTE ``t``, the condition that a row has
    no problem, and every (condition, tag) check."""
    typed = ", ".join(f"{_typed(c, read_typed)} AS {_q('t_' + c.name)}" for c in feed.columns)
    checks = [p for c in feed.columns for p in _problems(c, bounds, read_typed)]
    checks += _feed_problems(feed)
    any_bad = " OR ".join(f"coalesce({cond}, false)" for cond, _ in checks)
    return f"WITH t AS (SELECT *, {typed} FROM {source})", f"NOT ({any_bad})", checks


def _kept(c: Column) -> str:
    """The original value as quarantine keeps it: as sent, except in an identity field, where
    anything but a digest (a raw ID number sent by mistake) is withheld, its length kept."""
    col = _q(c.name)
    if c.check != Check.HASH:
        return col
    text = f"CAST({col} AS VARCHAR)"
    digest = _lit(_PATTERNS[Check.HASH][0])
    return (f"CASE WHEN {col} IS NULL OR regexp_full_match({text}, {digest}) THEN {text}"
            f" ELSE concat('[withheld: ', length({text}), ' characters, not a "
            f"digest]') END")


def validation_sql(feed: Feed, bounds: Bounds, source: str) -> str:
    """A query giving each row of ``source`` typed (``t_<name>``) with ``_line``, ``_ok``, and for
    bad rows only, every ``_problems`` and the original values as JSON in ``_record``.

    ``source`` is a table expression with the feed's columns and ``_line``.
    """
    with_t, ok, checks = _checked(feed, bounds, source)
    listed = ", ".join(f"CASE WHEN {cond} THEN {_lit(tag)} END" for cond, tag in checks)
    cols = ", ".join(_q("t_" + c.name) for c in feed.columns)
    record = ", ".join(f"{_q(c.name)} := {_kept(c)}" for c in feed.columns)
    return (
        f"{with_t}, u AS (SELECT *, {ok} AS _ok FROM t) "
        f"SELECT {cols}, _line, _ok, "
        f"CASE WHEN NOT _ok THEN concat_ws('; ', {listed}) END AS _problems, "
        f"CASE WHEN NOT _ok THEN CAST(to_json(struct_pack({record})) AS VARCHAR) END AS _record "
        "FROM u"
    )


def _typed_names(feed: Feed) -> tuple[str, str]:
    """The typed columns under the feed's names, and ``, day`` for time feeds (else '')."""
    names = ", ".join(f"{_q('t_' + c)} AS {_q(c)}" for c in feed.column_names)
    day = f", CAST({_q('t_' + feed.time_column)} AS DATE) AS day" if feed.time_column else ""
    return names, day


def stage_sql(feed: Feed, bounds: Bounds, source: str, src: int, out: str) -> str:
    """A COPY that checks ``source`` and writes every row to the staging file ``out``.

    Staging rows have the feed's columns (typed; NULL where a value was bad), ``_src`` (the
    input file's number), ``_line``, ``day`` for time feeds, ``_ok``, ``_problems``, ``_record``.
    """
    names, day = _typed_names(feed)
    return (
        f"COPY (SELECT {names}, {src}::INTEGER AS _src, _line{day}, _ok, _problems, _record "
        f"FROM ({validation_sql(feed, bounds, source)})) TO {_lit(out)} "
        "(FORMAT parquet, COMPRESSION lz4)"
    )


def direct_sql(
    feed: Feed, bounds: Bounds, source: str, out: str, options: str, *, read_typed: bool = False
) -> str:
    """A COPY of the rows of ``source``, typed, with ``day`` for time feeds, to ``out`` with the
    COPY ``options`` given (the lake's own); it returns the rows written, which are all the rows
    read, since the first row that fails a check stops it with an error.

    The same checks as ``validation_sql``, but no line numbers, problems or original values:
    ``source`` needs only the feed's columns. For files expected to be clean. ``read_typed``:
    the source parsed the columns of ``source_types`` itself, failing on a value that does not
    parse (DuckDB's CSV reader does, with the casts that ``TRY_CAST`` uses).
    """
    with_t, ok, _ = _checked(feed, bounds, source, read_typed)
    names, day = _typed_names(feed)
    return (
        f"COPY ({with_t} SELECT {names}{day} FROM t "
        f"WHERE CASE WHEN {ok} THEN true ELSE error({_lit(ROW_FAILS)}) END) "
        f"TO {_lit(out)} ({options})"
    )
