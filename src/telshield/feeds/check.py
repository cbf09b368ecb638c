"""``feeds check``: what ingesting one file through a feed profile would quarantine, before it is
ingested, and what the profile still needs (a rename, a value mapping, a time format, a hash
format). It reads the file as the exact path does and runs the same validation SQL over the
profile's projection; nothing is written anywhere.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from telshield.feeds.profiles import FeedProfile
from telshield.feeds.readers import header_names, read_chunks
from telshield.feeds.validate import Bounds, validation_sql
from telshield.reference.schemas import Check, Feed

SHOWN = 20  # values shown per column and problem

# Problems whose export values are shown with their counts (never for identity hashes).
_SHOW_VALUES = {"bad_enum", "bad_type", "bad_number", "timestamp_out_of_range", "bad_ip"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class ColumnProblem:
    """One problem of one feed column: how many rows have it and, where safe to show, the
    export's values that cause it with their counts (most frequent first)."""

    column: str
    source_column: str
    reason: str
    rows: int
    values: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class FeedCheck:
    """What a profile still needs for one file."""

    path: str
    feed: str
    profile: str | None
    header: list[str]
    unknown: list[str]  # export columns mapped to no feed column: ignored by ingest
    missing: list[str]  # feed columns the export lacks (ingest refuses the file)
    rows: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)  # rows by first reason
    problems: list[ColumnProblem] = field(default_factory=list)
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    duplicates: int = 0

    @property
    def would_quarantine(self) -> int:
        """Rows an ingest of this file would quarantine."""
        return sum(self.quarantined.values())

    @property
    def ready(self) -> bool:
        """Whether the file would be ingested whole."""
        return not self.missing and self.would_quarantine == 0


def check_file(path: Path, spec: Feed, profile: FeedProfile | None, bounds: Bounds,
               memory_limit: str = "1GB") -> FeedCheck:
    """Check ``path`` as feed ``spec`` read through ``profile`` (None: as the feed's schema)."""
    fp = profile or FeedProfile(spec, "no profile", "")
    header = header_names(path)
    result = FeedCheck(str(path), spec.name, profile.origin if profile else None, header,
                       fp.unknown(header), fp.missing(header))
    if result.missing:
        return result
    wanted = fp.source_columns(header)
    tables, bad = [], []
    for chunk in read_chunks(path, spec, 1_000_000, columns=wanted):
        tables.append(chunk.table.append_column("_line", chunk.lines))
        bad.extend(chunk.bad)
    raw = pa.concat_tables(tables) if tables else None
    result.malformed = [(b.line, b.reason) for b in bad]
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = {_lit(memory_limit)}")
        if raw is None:
            raw = pa.table({**{c: pa.array([], pa.string()) for c in wanted},
                            "_line": pa.array([], pa.int64())})
        con.register("raw", raw)
        source = fp.project("raw", header, typed=False, lines=True)
        con.execute(f"CREATE TEMP TABLE v AS {validation_sql(spec, bounds, source)}")
        result.rows = int(con.execute("SELECT count(*) FROM v").fetchall()[0][0]) + len(bad)
        first = "split_part(split_part(split_part(_problems, '; ', 1), ': ', 2), ' (', 1)"
        result.quarantined = Counter({r: int(n) for r, n in con.execute(
            f"SELECT {first}, count(*) FROM v WHERE NOT _ok GROUP BY 1").fetchall()})
        for _, reason in result.malformed:
            result.quarantined[reason] += 1
        key = ", ".join(_q("t_" + k) for k in spec.key)
        result.duplicates = int(con.execute(
            f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM v WHERE _ok "
            f"GROUP BY {key})").fetchall()[0][0])
        if result.duplicates:
            result.quarantined["duplicate_key"] += result.duplicates
        result.problems = _problems(con, spec, fp, header)
    finally:
        con.close()
    return result


def _problems(con: duckdb.DuckDBPyConnection, spec: Feed, fp: FeedProfile,
              header: list[str]) -> list[ColumnProblem]:
    """Each (column, reason) found, with the export's values behind it."""
    tags = con.execute(
        "SELECT tag, count(*) FROM (SELECT unnest(string_split(_problems, '; ')) AS tag "
        "FROM v WHERE NOT _ok) GROUP BY tag ORDER BY tag").fetchall()
    out = []
    for tag, n in tags:
        column, _, reason = str(tag).partition(": ")
        if column not in spec.column_names:
            continue
        src = fp.source_name(column)
        problem = ColumnProblem(column, src if src in header else "(default)", reason, int(n))
        c = spec.column(column)
        if reason in _SHOW_VALUES and c.check != Check.HASH and src in header:
            rows = con.execute(
                f"SELECT CAST(raw.{_q(src)} AS VARCHAR) AS value, count(*) AS n FROM v "
                f"JOIN raw USING (_line) WHERE list_contains(string_split(v._problems, '; '), "
                f"{_lit(str(tag))}) GROUP BY 1 ORDER BY n DESC, value LIMIT {SHOWN}").fetchall()
            problem.values = [(str(v), int(k)) for v, k in rows]
        out.append(problem)
    return out
