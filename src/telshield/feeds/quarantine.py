"""Quarantine: every rejected feed row, with its source file, line, reasons and original values."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson
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
        pa.field("field", pa.string(), nullable=False),  # the first problem's field ('' = record)
        pa.field("problems", pa.string(), nullable=False),  # every problem, 'field: reason; ...'
        pa.field("record", pa.string(), nullable=False),  # the original values as JSON (or text)
    ]
)


@dataclass
class QuarantineWriter:
    """Appends rejected rows of one ingest run to ``<dir>/<feed>/<ingest_id>.parquet``."""

    directory: Path
    feed: str
    ingest_id: str
    ingested_at: datetime
    counts: Counter[str] = field(default_factory=Counter)
    _writer: pq.ParquetWriter | None = None
    _tmp: Path | None = None

    @property
    def path(self) -> Path:
        """Where this run's quarantine file ends up."""
        return self.directory / self.feed / f"{self.ingest_id}.parquet"

    def add(self, source: str, lines: list[int], problems: list[str], records: list[str]) -> None:
        """Quarantine rows: their lines, problem lists ('field: reason; ...') and originals."""
        if not lines:
            return
        first = [p.split("; ", 1)[0] for p in problems]
        fields = [f.split(": ", 1)[0] if ": " in f else "" for f in first]
        reasons = [(f.split(": ", 1)[1] if ": " in f else f).split(" (", 1)[0] for f in first]
        self.counts.update(reasons)
        n = len(lines)
        batch = pa.table(
            {
                "ingest_id": pa.array([self.ingest_id] * n, pa.string()),
                "ingested_at": pa.array([self.ingested_at] * n, pa.timestamp("us")),
                "feed": pa.array([self.feed] * n, pa.string()),
                "source_file": pa.array([source] * n, pa.string()),
                "line": pa.array(lines, pa.int64()),
                "reason": pa.array(reasons, pa.string()),
                "field": pa.array(fields, pa.string()),
                "problems": pa.array(problems, pa.string()),
                "record": pa.array(records, pa.string()),
            },
            schema=SCHEMA,
        )
        if self._writer is None:
            self._tmp = self.path.with_suffix(".parquet.partial")
            self._tmp.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, SCHEMA)
        self._writer.write_table(batch)

    def add_table(self, source: str, raw: pa.Table, lines: pa.Array, problems: pa.Array) -> None:
        """Quarantine the rows of a raw chunk (original values kept as JSON)."""
        values = raw.to_pylist()
        records = [orjson.dumps(v, default=str).decode() for v in values]
        self.add(source, lines.to_pylist(), problems.to_pylist(), records)

    def close(self) -> Path | None:
        """Finish the file (atomically renamed into place); None when nothing was quarantined."""
        if self._writer is None or self._tmp is None:
            return None
        self._writer.close()
        self._tmp.replace(self.path)
        return self.path


def read(directory: Path, feed: str | None = None, reason: str | None = None) -> pa.Table:
    """Every quarantined row under ``directory`` (optionally one feed's, one reason's)."""
    files = sorted((directory / feed if feed else directory).rglob("*.parquet"))
    if not files:
        return SCHEMA.empty_table()
    table = pa.concat_tables([pq.read_table(f, schema=SCHEMA) for f in files])
    if reason:
        table = table.filter(pc.equal(table["reason"], reason))
    return table
