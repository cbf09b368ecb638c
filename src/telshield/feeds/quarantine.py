"""Quarantine: every rejected feed row, with its source file, line, reasons and original values."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SCHEMA = pa.schema(
    [
        pa.field("ingest_id", pa.string(), nullable=False),
        pa.field("ingested_at", pa.timestamp("us"), nullable=False),
        pa.field("feed", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),  # the first problem's reason code
        pa.field("field", pa.string(), nullable=False),  # the first problem's field(s)
        pa.field("problems", pa.string(), nullable=False),  # every problem, 'field: reason; ...'
        pa.field("record", pa.string(), nullable=False),  # the original values (JSON or text)
    ]
)

# Rows that failed a structural check (a record that could not be split into fields).
STRUCTURAL = pa.schema(
    [
        pa.field("_src", pa.int32()),
        pa.field("_line", pa.int64()),
        pa.field("_problems", pa.string()),
        pa.field("_record", pa.string()),
    ]
)


@dataclass(frozen=True)
class Segment:
    """Lines of an ingested file that are another source's own (a stream batch's messages
    spooled into one file): from line ``first_line`` of file ``file`` (its index among the
    ingest's files) up to the next segment, they are ``source``'s lines from 2 on (its line 1
    being its own header). The quarantine names such a row by that source and line."""

    file: int
    first_line: int
    source: str


# The quarantine file an ingest writes before its commit (services.ingest names it
# ``<ingest id>.parquet``): visible only once that ingest's line is in the lake's manifest, like
# the lake files it wrote, so a crash between the two leaves neither. Other files (a stream's
# ``<id>-messages.parquet``, written after its ingest committed) are always visible.
INGEST_FILE = re.compile(r"(\d{8}T\d{6}-[0-9a-f]{8})\.parquet")


def visible(files: list[Path], committed: frozenset[str] | None) -> list[Path]:
    """The quarantine files that count: all when ``committed`` is None (no lake manifest to
    go by), else those not written by an ingest that has not committed."""
    if committed is None:
        return files
    return [f for f in files
            if (m := INGEST_FILE.fullmatch(f.name)) is None or m.group(1) in committed]


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write(
    con: duckdb.DuckDBPyConnection,
    parts: list[Path],
    sources: list[str],
    out: Path,
    *,
    feed: str,
    ingest_id: str,
    at: datetime,
    segments: list[Segment] | None = None,
    committed: frozenset[str] | None = None,
) -> Counter[str]:
    """Write the bad rows of ``parts`` (Parquet files with ``_src``, ``_line``, ``_problems``,
    ``_record`` and, where present, ``_ok``) to ``out``; return counts per reason.

    A row the feed's quarantine holds already (same file, line and record: the same bad file
    ingested again) is not written again, so re-ingesting adds nothing anywhere; a file of an
    ingest not in ``committed`` (one that died before its commit) holds nothing. Nothing is
    written when no row is new. The file appears by atomic rename.
    """
    selects = []
    for p in parts:
        names = pq.ParquetFile(p).schema_arrow.names
        where = "WHERE NOT _ok" if "_ok" in names else ""
        selects.append(
            f"SELECT _src, _line, _problems, _record FROM read_parquet({_lit(str(p))}) {where}"
        )
    if not selects:
        return Counter()
    files = "[" + ", ".join(_lit(s) for s in sources) + "]"
    first = "split_part(_problems, '; ', 1)"
    rows = f"({' UNION ALL '.join(selects)}) u"
    source, line = f"{files}[_src + 1]", "_line"
    if segments:
        con.register("_segments", pa.table({
            "_seg_file": pa.array([s.file for s in segments], pa.int32()),
            "_seg_first": pa.array([s.first_line for s in segments], pa.int64()),
            "_seg_source": pa.array([s.source for s in segments], pa.string()),
        }))
        rows += (" ASOF LEFT JOIN _segments s ON u._src = s._seg_file "
                 "AND u._line >= s._seg_first")
        source = f"coalesce(_seg_source, {source})"
        line = "CASE WHEN _seg_source IS NULL THEN _line ELSE _line - _seg_first + 2 END"
    query = (
        f"SELECT {_lit(ingest_id)} AS ingest_id, TIMESTAMP {_lit(at.isoformat(sep=' '))} AS "
        f"ingested_at, {_lit(feed)} AS feed, {source} AS source_file, {line} AS line, "
        f"split_part(split_part({first}, ': ', 2), ' (', 1) AS reason, "
        f"split_part({first}, ': ', 1) AS field, _problems AS problems, _record AS record "
        f"FROM {rows} ORDER BY _src, _line"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE quarantined AS {query}")
    if segments:
        con.unregister("_segments")
    earlier = visible(sorted(f for f in out.parent.glob("*.parquet") if f != out), committed) \
        if out.parent.is_dir() else []
    if earlier:
        held = "[" + ", ".join(_lit(str(f)) for f in earlier) + "]"
        con.execute(
            "DELETE FROM quarantined WHERE (source_file, line, record) IN "
            f"(SELECT source_file, line, record FROM read_parquet({held}))")
    counts = Counter(
        {r: int(n) for r, n in con.execute(
            "SELECT reason, count(*) FROM quarantined GROUP BY reason"
        ).fetchall()}
    )
    if counts:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".parquet.partial")
        con.execute(f"COPY quarantined TO {_lit(str(tmp))} (FORMAT parquet)")
        tmp.replace(out)
    con.execute("DROP TABLE quarantined")
    return counts


def per_source(out: Path) -> Counter[str]:
    """Quarantined rows per source file in one quarantine file."""
    if not out.exists():
        return Counter()
    t = pq.read_table(out, columns=["source_file"])
    return Counter(t["source_file"].to_pylist())


def read(directory: Path, feed: str | None = None, reason: str | None = None, *,
         committed: frozenset[str] | None = None) -> pa.Table:
    """Every quarantined row under ``directory`` (optionally one feed's, one reason's); with
    ``committed`` (the lake's finished ingests), none of an ingest that has not committed."""
    root = directory / feed if feed else directory
    files = visible(sorted(root.rglob("*.parquet")), committed) if root.exists() else []
    if not files:
        return SCHEMA.empty_table()
    table = pa.concat_tables([pq.read_table(f, schema=SCHEMA) for f in files])
    if reason:
        table = table.filter(pc.equal(table["reason"], reason))
    return table


def write_records(
    records: list[tuple[str, int, str, str]],
    out: Path,
    *,
    feed: str,
    ingest_id: str,
    at: datetime,
    committed: frozenset[str] | None = None,
) -> Counter[str]:
    """Quarantine whole records that could not be read at all (a stream message that is not a
    feed CSV): each is ``(source, line, problems, text)``, ``problems`` as ``'field: reason
    (detail)'``. As ``write``, a record the feed's quarantine holds already is not written
    again; return counts per reason."""
    if not records:
        return Counter()
    sources = sorted({r[0] for r in records})
    index = {s: i for i, s in enumerate(sources)}
    table = pa.table(
        {
            "_src": pa.array([index[r[0]] for r in records], pa.int32()),
            "_line": pa.array([r[1] for r in records], pa.int64()),
            "_problems": pa.array([r[2] for r in records], pa.string()),
            "_record": pa.array([r[3] for r in records], pa.string()),
        },
        schema=STRUCTURAL,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_suffix(".records.parquet.partial")
    pq.write_table(table, part)
    con = duckdb.connect()
    try:
        return write(con, [part], sources, out, feed=feed, ingest_id=ingest_id, at=at,
                     committed=committed)
    finally:
        con.close()
        part.unlink(missing_ok=True)
