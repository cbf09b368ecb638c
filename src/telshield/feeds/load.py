"""Loading feed files into the lake through DuckDB: the adapter behind ``services.ingest``.

Two paths. The direct one writes the good rows of each file straight into lake files in one
pass and keeps them when every file turns out clean (no bad, malformed or blank record and no
repeated key): the common case, at one write per row. The exact one, taken otherwise, stages
every row with its line so that each bad row and repeat is quarantined with its file and line; a
file with problems costs a second pass. The service decides what to report; this module owns
the DuckDB connection, the SQL and the staging files.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from telshield.feeds import quarantine
from telshield.feeds.lake import CommitResult, Lake
from telshield.feeds.profiles import FeedProfile
from telshield.feeds.readers import (
    BadRecord,
    csv_header,
    duckdb_csv_source,
    duckdb_parquet_source,
    header_names,
    parquet_rows,
    physical_lines,
    read_chunks,
    scan_text,
)
from telshield.feeds.validate import Bounds, direct_sql, source_types, stage_sql
from telshield.reference.schemas import Feed

log = structlog.get_logger(__name__)

Progress = Callable[[int], None]  # called with bytes of input consumed


@dataclass(frozen=True)
class Loaded:
    """What one load did: the records read from each file, the commit, and the rows
    quarantined by reason (empty on the direct path)."""

    rows: list[int]
    commit: CommitResult
    quarantined: Counter[str]
    path: str  # "direct" or "exact"


class Loader:
    """One ingest's DuckDB connection, spilling to the ingest's staging folder."""

    def __init__(self, lake: Lake, staged: Path, ingest_id: str, memory_limit: str) -> None:
        self.lake = lake
        self.staged = staged
        self.ingest_id = ingest_id
        self.con = duckdb.connect()
        self.con.execute(f"SET temp_directory = '{staged / 'spill'}'")
        self.con.execute(f"SET memory_limit = '{memory_limit}'")

    def __enter__(self) -> Loader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.con.close()

    def direct(
        self, spec: Feed, bounds: Bounds, files: list[Path], progress: Progress | None,
        profile: FeedProfile | None = None,
    ) -> tuple[list[int], Loaded | None]:
        """The fast path, when every file is clean: each file's good rows are written once,
        straight into lake files, and committed. Return the rows of each file done, and what
        was loaded, or None when the exact path must run (nothing of this attempt is left in
        the lake or staging)."""
        direct = self.staged / "direct"
        rows: list[int] = []
        result = None
        for n, path in enumerate(files):
            written = self._direct_file(spec, bounds, path, n, direct, profile)
            if written is None:
                break
            rows.append(written)
            if progress:
                progress(path.stat().st_size)
        else:
            result = self.lake.commit_direct(self.con, spec, self.staged, direct, self.ingest_id)
            if result is None:
                log.info("ingest.exact_path", feed=spec.name, why="a key repeats within the ingest")
        if result is None:
            shutil.rmtree(direct, ignore_errors=True)
            return rows, None
        return rows, Loaded(rows, result, Counter(), "direct")

    def _direct_file(
        self, spec: Feed, bounds: Bounds, path: Path, n: int, direct: Path,
        profile: FeedProfile | None = None,
    ) -> int | None:
        """Write the rows of one file straight to ``direct``; return how many, or None when the
        file is not clean (a row fails a check, a record is malformed or blank, or spans
        lines)."""
        csv = path.suffix != ".parquet"
        if profile is not None:
            # The profile's renames and mappings are a projection over the file's own columns,
            # run in the same COPY.
            header = _profiled_header(path, profile)
            wanted = profile.source_columns(header)
            if csv:
                types = profile.reader_types(header, source_types(spec))
                raw = duckdb_csv_source(path, spec, header, None, lines=False, types=types,
                                        columns=wanted)
            else:
                raw = duckdb_parquet_source(path, spec, lines=False, columns=wanted)
            source = profile.project(raw, header, typed=csv, lines=False)
        elif csv:
            # No rejects table: a malformed record (wrong field count, bad bytes) is an error,
            # and so is a number or timestamp that does not parse, since DuckDB's reader parses
            # them.
            source = duckdb_csv_source(
                path, spec, csv_header(path, spec), None, lines=False, types=source_types(spec)
            )
        else:
            source = duckdb_parquet_source(path, spec, lines=False)
        target, copy_options = self.lake.direct_target(spec, direct, self.ingest_id, n)
        sql = direct_sql(spec, bounds, source, target, copy_options, read_typed=csv)
        with ThreadPoolExecutor(1) as pool:
            # Lines are counted while DuckDB copies (both let go of the GIL).
            lines = pool.submit(scan_text, path) if csv else None
            try:
                written = self._copy(sql)
            except duckdb.Error as e:
                log.info("ingest.exact_path", file=str(path), why=str(e).splitlines()[0])
                return None
        # The COPY succeeded, so every record DuckDB read passed every check and was written: a
        # bad row or a malformed record stops it with an error. What is left to rule out is a
        # file that DuckDB splits into records differently from the exact reader, which keeps
        # physical lines: a blank line, or a record whose quoted field spans lines, uses up a
        # line without giving a record. So rows written == lines - 1 (the header) means every
        # line after the header is one good record, now written. A Parquet file's records are
        # the rows in its metadata.
        scan = lines.result() if lines is not None else None
        if scan is not None and (scan.control or scan.longest > bounds.max_field_bytes):
            # The direct check of a CSV's text fields leaves control characters and long
            # fields to this scan: such a file takes the exact path, which checks each field.
            log.info("ingest.exact_path", file=str(path),
                     why="control characters" if scan.control else "a long line")
            return None
        records = scan.lines - 1 if scan is not None else parquet_rows(path)
        if written != records:
            log.info("ingest.exact_path", file=str(path), records=records, written=written)
            return None
        return written

    def exact(
        self, spec: Feed, bounds: Bounds, files: list[Path], *, reader: str, chunk_rows: int,
        qfile: Path, now: datetime, progress: Progress | None, max_line_bytes: int = 1 << 20,
        profile: FeedProfile | None = None, sources: list[str] | None = None,
        segments: list[quarantine.Segment] | None = None,
    ) -> Loaded:
        """The exact path: every row staged with its line, bad ones and repeats quarantined
        to ``qfile`` under each file's name in ``sources`` (default: its path), or the name
        and line of the ``segments`` that part of a file is."""
        structural: list[tuple[int, BadRecord]] = []
        rows = []
        for i, path in enumerate(files):
            rows.append(self._stage_file(spec, bounds, path, i, reader, chunk_rows,
                                         max_line_bytes, structural, profile))
            if progress:
                progress(path.stat().st_size)
        result = self.lake.commit(self.con, spec, self.staged, self.ingest_id)
        parts = sorted(self.staged.glob("stage-*.parquet")) + self._structural_file(structural)
        if (self.staged / "dups.parquet").exists():
            parts.append(self.staged / "dups.parquet")
        quarantined = quarantine.write(
            self.con, parts, sources or [str(f) for f in files], qfile,
            feed=spec.name, ingest_id=self.ingest_id, at=now, segments=segments,
            committed=self.lake.committed(),
        )
        return Loaded(rows, result, quarantined, "exact")

    def _stage_file(
        self, spec: Feed, bounds: Bounds, path: Path, i: int, reader: str, chunk_rows: int,
        max_line_bytes: int, structural: list[tuple[int, BadRecord]],
        profile: FeedProfile | None = None,
    ) -> int:
        """Check one file into staging; return the records read."""
        out = self.staged / f"stage-{i:05d}.parquet"
        wanted: list[str] | None = None
        if profile is not None:
            header = _profiled_header(path, profile)
            wanted = profile.source_columns(header)

        def profiled(raw: str) -> str:
            return raw if profile is None else profile.project(raw, header, typed=False,
                                                               lines=True)

        if path.suffix == ".parquet":
            source = profiled(duckdb_parquet_source(path, spec, columns=wanted))
            return self._copy(stage_sql(spec, bounds, source, i, str(out)))
        names = csv_header(path, spec) if profile is None else header
        if reader == "auto":
            rejects = f"rejects_{i}"
            try:
                source = profiled(duckdb_csv_source(path, spec, names, rejects, columns=wanted))
                n = self._copy(stage_sql(spec, bounds, source, i, str(out)))
                bad = self._copy(f"SELECT count(*) FROM {rejects}")
                if bad == 0 and n + 1 == physical_lines(path):
                    return n
            except duckdb.Error as e:
                log.info("ingest.exact_reader", file=str(path), why=str(e).splitlines()[0])
            out.unlink(missing_ok=True)
        # Exact, chunked reading: records with a wrong field count or bad bytes, blank lines.
        total = 0
        chunks = read_chunks(path, spec, chunk_rows, max_line_bytes, wanted)
        for j, chunk in enumerate(chunks):
            structural.extend((i, b) for b in chunk.bad)
            self.con.register("raw", chunk.table.append_column("_line", chunk.lines))
            try:
                part = self.staged / f"stage-{i:05d}-{j:05d}.parquet"
                total += self._copy(stage_sql(spec, bounds, profiled("raw"), i, str(part)))
                total += len(chunk.bad)
            finally:
                self.con.unregister("raw")
        return total

    def _copy(self, sql: str) -> int:
        """Run a COPY (or a count) and return its one number. The result is fetched to the end:
        a result left open makes DuckDB refuse ``register`` on the connection (the chunked
        reader)."""
        rows = self.con.execute(sql).fetchall()
        return int(rows[0][0]) if rows else 0

    def _structural_file(self, structural: list[tuple[int, BadRecord]]) -> list[Path]:
        """Records that could not be split into fields, as a quarantine part."""
        if not structural:
            return []
        problems = [
            f"record: {b.reason}" + (f" ({b.detail})" if b.detail else "") for _, b in structural
        ]
        table = pa.table(
            {
                "_src": pa.array([i for i, _ in structural], pa.int32()),
                "_line": pa.array([b.line for _, b in structural], pa.int64()),
                "_problems": pa.array(problems, pa.string()),
                "_record": pa.array([b.text for _, b in structural], pa.string()),
            },
            schema=quarantine.STRUCTURAL,
        )
        out = self.staged / "structural.parquet"
        pq.write_table(table, out)
        return [out]


def _profiled_header(path: Path, profile: FeedProfile) -> list[str]:
    """The file's columns, checked against what the profile needs (InvalidInput if lacking)."""
    header = header_names(path)
    profile.check_header(path, header)
    return header
