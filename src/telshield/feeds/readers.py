"""Stream CSV and Parquet feed files in chunks of bounded size, keeping each row's line number.

Every value is read as text (CSV) or as stored (Parquet); typing happens in validation, so that a
bad value is quarantined with its original text instead of failing the whole file. A CSV record
whose field count is wrong is returned as a structural problem with its line, never dropped.
A quoted field may hold line breaks (a record then spans several physical lines); a record's
line number is that of its first physical line, the header being line 1.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import structlog

from telshield.domain.errors import InvalidInput
from telshield.reference.schemas import Feed

log = structlog.get_logger(__name__)

SUFFIXES = (".csv", ".parquet")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"  # the feeds' form (docs/feeds.md)
MAX_LINE_BYTES = 1 << 20  # a longer CSV line is quarantined unread (ingest.max_line_bytes)
MAX_BLOCK_BYTES = 64 << 20  # the most the chunked reader reads at once
KEEP_BYTES = 200  # of a too-long line, the quarantine keeps its start
# A raw resident ID number (18 characters, the last a digit or X) in a record kept whole:
# quarantine never holds one in clear.
_RAW_ID = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")


def withhold_ids(text: str) -> str:
    """``text`` with every raw ID number replaced by a marker."""
    return _RAW_ID.sub("[withheld ID number]", text)


@dataclass(frozen=True)
class BadRecord:
    """A record that could not even be split into the feed's columns."""

    line: int
    text: str
    reason: str
    detail: str
    size: int = 0  # bytes of the file it covers when it was skipped unread (a too-long line)


@dataclass
class Chunk:
    """Up to about ``chunk_rows`` rows of one file: the feed's columns and each row's line."""

    table: pa.Table  # the feed's columns, in schema order, text or stored types
    lines: pa.Array  # int64, one per row
    bad: list[BadRecord] = field(default_factory=list)
    nbytes: int = 0  # how much of the file this chunk covers, for progress bars


def feed_files(paths: list[Path], skipped: list[str] | None = None) -> list[Path]:
    """Expand directories into the feed files inside them (sorted); reject what isn't one.

    In a directory, a link is followed only to a file inside that directory that is not
    listed already; a link leaving it (to a system file, another drop folder) is skipped and
    named in ``skipped``, so that a folder someone else can write cannot make ingest read
    anything else."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            root = p.resolve()
            found: list[Path] = []
            seen: set[Path] = set()
            links: list[Path] = []
            for q in sorted(p.rglob("*")):
                if q.suffix not in SUFFIXES or not q.is_file():
                    continue
                real = q.resolve()
                if q.is_symlink() or real != q.absolute():
                    links.append(q)
                    continue
                seen.add(real)
                found.append(q)
            for q in links:
                real = q.resolve()
                if not real.is_relative_to(root) or real in seen:
                    if skipped is not None:
                        skipped.append(str(q))
                    log.warning("ingest.link_skipped", link=str(q), target=str(real),
                                why="leaves the folder" if not real.is_relative_to(root)
                                else "a file listed already")
                    continue
                seen.add(real)
                found.append(q)
            if not found:
                what = "only links that leave it" if links else "no .csv or .parquet feed files"
                raise InvalidInput(f"{p}: directory holds {what}; put the feed files themselves "
                                   "in it")
            out.extend(sorted(found))
        elif not p.exists():
            raise InvalidInput(f"{p}: no such file; check the path")
        elif p.suffix not in SUFFIXES:
            raise InvalidInput(f"{p}: unknown file type {p.suffix!r}; give .csv or .parquet files")
        else:
            out.append(p)
    return out


def read_chunks(path: Path, feed: Feed, chunk_rows: int,
                max_line_bytes: int = MAX_LINE_BYTES, columns: list[str] | None = None,
                ) -> Iterator[Chunk]:
    """Yield the file's rows in chunks; raise InvalidInput if the file cannot be read at all.
    A CSV line longer than ``max_line_bytes`` is a bad record (``field_too_long``) whose start
    is kept; it is skipped without being held in memory. ``columns``: the file's columns to
    keep, checked by the caller (a feed profile's); by default the feed's, checked here."""
    chunks = _parquet_chunks(path, feed, chunk_rows, columns) if path.suffix == ".parquet" \
        else _csv_chunks(path, feed, chunk_rows, max_line_bytes, columns)
    for chunk in chunks:
        yield chunk if columns is not None else _with_optional(chunk, feed)


def _with_optional(chunk: Chunk, feed: Feed) -> Chunk:
    """The chunk with the feed's optional columns its file lacks, as nulls, in schema order
    (an export written before a column was added to the feed)."""
    have = chunk.table.column_names
    if len(have) == len(feed.columns):
        return chunk
    n = chunk.table.num_rows
    text = all(chunk.table.schema.field(c).type == pa.string() for c in have)
    cols = [chunk.table[c] if c in have else
            pa.nulls(n, pa.string() if text else feed.schema.field(c).type)
            for c in feed.column_names]
    chunk.table = pa.table(cols, names=feed.column_names)
    return chunk


def present_columns(feed: Feed, names: Sequence[str]) -> list[str]:
    """The feed's columns a file with the header ``names`` holds (an optional column added to
    the feed after the file was written may be missing: it reads as null)."""
    return [c for c in feed.column_names if c in names]


def _select_list(feed: Feed, names: Sequence[str], types: dict[str, str] | None = None) -> str:
    """The feed's columns for a DuckDB SELECT over a file with the header ``names``: an
    optional column the file lacks as a typed NULL."""
    types = types or {}
    return ", ".join(
        _q(c) if c in names else f"CAST(NULL AS {types.get(c, 'VARCHAR')}) AS {_q(c)}"
        for c in feed.column_names)


def header_names(path: Path) -> list[str]:
    """The column names of a CSV file's header or a Parquet file's schema."""
    if path.suffix == ".parquet":
        try:
            return list(pq.ParquetFile(path).schema_arrow.names)
        except (pa.ArrowInvalid, OSError) as e:
            raise InvalidInput(f"{path}: not a readable Parquet file ({e})") from e
    return _csv_header(path)[0]


def _check_header(path: Path, feed: Feed, names: list[str]) -> None:
    missing = [c.name for c in feed.columns if c.required and c.name not in names]
    if missing:
        raise InvalidInput(
            f"{path}: header lacks column(s) {', '.join(missing)} of feed {feed.name!r}; "
            f"expected {', '.join(feed.column_names)} (see docs/feeds.md)"
        )


def _parquet_chunks(path: Path, feed: Feed, chunk_rows: int,
                    columns: list[str] | None = None) -> Iterator[Chunk]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise InvalidInput(f"{path}: not a readable Parquet file ({e})") from e
    if columns is None:
        _check_header(path, feed, pf.schema_arrow.names)
    size = path.stat().st_size
    first = 1
    for batch in pf.iter_batches(batch_size=chunk_rows, columns=columns or present_columns(
            feed, pf.schema_arrow.names)):
        n = batch.num_rows
        share = size * n // max(1, pf.metadata.num_rows)
        lines = pa.array(range(first, first + n), pa.int64())
        yield Chunk(pa.Table.from_batches([batch]), lines, nbytes=share)
        first += n


def _csv_header(path: Path) -> tuple[list[str], int]:
    with path.open("rb") as f:
        head = f.readline()
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{path}: line 1 is not UTF-8 text; export the feed as UTF-8") from e
    if not text.strip():
        raise InvalidInput(f"{path}: file is empty; a CSV feed starts with a header line")
    return [c.strip() for c in next(csv.reader([text]))], len(head)


def _csv_chunks(path: Path, feed: Feed, chunk_rows: int, max_line: int,
                columns: list[str] | None = None) -> Iterator[Chunk]:
    names, header_bytes = _csv_header(path)
    if columns is None:
        _check_header(path, feed, names)
    keep = columns or present_columns(feed, names)
    with path.open("rb") as f:
        f.seek(header_bytes)
        sample = f.read(1 << 16)
        avg = max(1, len(sample) // max(1, sample.count(b"\n")))
        block = min(max(1 << 16, chunk_rows * avg), MAX_BLOCK_BYTES)
        f.seek(header_bytes)
        line = 2
        tail = b""
        while True:
            data = f.read(block)
            eof = len(data) < block
            buf = tail + data
            if not buf:
                break
            if eof:
                body, tail = buf, b""
            else:
                cut = _record_cut(buf)
                if cut == 0:  # one line longer than a block: keep reading, up to the limit
                    if len(buf) <= max_line:
                        tail = buf
                        continue
                    bad, rest = _skip_line(f, buf, line, max_line, block)
                    yield Chunk(_empty(keep), pa.array([], pa.int64()), [bad], bad.size)
                    line += 1
                    tail = rest
                    continue
                body, tail = buf[:cut], buf[cut:]
            chunk = _parse_block(path, keep, names, body, line, max_line)
            chunk.nbytes = len(body) + (header_bytes if line == 2 else 0)
            yield chunk
            line += body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
            if eof:
                break


def _record_cut(buf: bytes) -> int:
    """Where a block may be cut: after its last newline outside quotes (by the parity of the
    quotes before it: a block starts at a record), else after its last newline."""
    last = buf.rfind(b"\n") + 1
    if b'"' not in buf:
        return last
    arr = np.frombuffer(buf, np.uint8)
    newlines = np.flatnonzero(arr == 10)
    quotes = np.flatnonzero(arr == 34)
    even = newlines[np.searchsorted(quotes, newlines) % 2 == 0]
    return int(even[-1]) + 1 if even.size else last


def _open_quote(piece: str, inside: bool) -> bool:
    """Whether a record is still inside a quoted field after this physical line, by the csv
    module's rules: a quote opens a field only at its start; inside one, "" is a quote."""
    if '"' not in piece:
        return inside
    start, i, n = not inside, 0, len(piece)
    while i < n:
        c = piece[i]
        if inside:
            if c == '"':
                if i + 1 < n and piece[i + 1] == '"':
                    i += 1
                else:
                    inside = False
        elif c == ",":
            start = True
            i += 1
            continue
        elif c == '"' and start:
            inside = True
        start = False
        i += 1
    return inside


def _skip_line(f: BinaryIO, start: bytes, line: int, max_line: int, block: int
               ) -> tuple[BadRecord, bytes]:
    """Read past the rest of an over-long line (``start`` is its beginning, with no newline):
    the bad record, and what follows the line in the last block read."""
    size, last = len(start), start[-1:]
    while True:
        data = f.read(block)
        if not data:
            rest = b""
            break
        nl = data.find(b"\n")
        if nl >= 0:
            size += nl
            rest = data[nl + 1:]
            if (data[nl - 1:nl] if nl else last) == b"\r":
                size -= 1  # a CRLF line's CR is not part of it, as in the block parser
            break
        size += len(data)
        last = data[-1:]
    return _too_long(start, line, size, max_line), rest


def _too_long(start: bytes, line: int, size: int, max_line: int) -> BadRecord:
    head = withhold_ids(start[:KEEP_BYTES].decode("utf-8", errors="replace"))
    return BadRecord(line, head + "…", "field_too_long",
                     f"a line of {size} bytes; the limit is {max_line}", size)


def _empty(keep: list[str]) -> pa.Table:
    return pa.table({n: pa.array([], pa.string()) for n in keep})


def _parse_block(path: Path, keep: list[str], names: list[str], body: bytes, first: int,
                 max_line: int = 0) -> Chunk:
    """The records of ``body`` (whole lines, the first being line ``first``) with the columns
    ``keep`` of the header ``names``."""
    max_line = max_line or MAX_LINE_BYTES
    if len(body) > max_line and _longest_line(body) > max_line:
        return _parse_block_slowly(path, keep, names, body, first, max_line)
    bad: list[BadRecord] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(BadRecord(0, withhold_ids(row.text), "wrong_column_count", ""))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                null_values=[""],
                include_columns=keep,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return _parse_block_slowly(path, keep, names, body, first, max_line)
    if bad or _has_blank_lines(body):
        # Rare: exact line numbers need a record-by-record pass over this block only.
        return _parse_block_slowly(path, keep, names, body, first, max_line)
    n = table.num_rows
    if n != body.count(b"\n") + (not body.endswith(b"\n")):
        # A quoted field holds a line break: a record spans lines, number them one by one.
        return _parse_block_slowly(path, keep, names, body, first, max_line)
    return Chunk(table, pa.array(range(first, first + n), pa.int64()))


def _has_blank_lines(body: bytes) -> bool:
    return body.startswith((b"\n", b"\r\n")) or b"\n\n" in body or b"\n\r\n" in body


def _longest_line(body: bytes) -> int:
    ends = np.flatnonzero(np.frombuffer(body, np.uint8) == 10)
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [len(body)]))
    return int((ends - starts).max())


def _parse_block_slowly(path: Path, keep: list[str], names: list[str], body: bytes, first: int,
                        max_line: int = MAX_LINE_BYTES) -> Chunk:
    cols: dict[str, list[str | None]] = {n: [] for n in keep}
    idx = [names.index(n) for n in keep]
    lines: list[int] = []
    bad: list[BadRecord] = []
    if csv.field_size_limit() < max_line:
        csv.field_size_limit(max_line)  # the line limit bounds every field
    pieces = body.split(b"\n")
    if pieces and not pieces[-1]:
        pieces.pop()  # after the last newline
    held: list[str] = []  # the physical lines of a record open in a quoted field
    held_bytes, start, inside = 0, first, False
    for i, piece in enumerate(pieces):
        line = first + i
        if not held:
            start = line
        if held_bytes + len(piece.rstrip(b"\r")) > max_line:
            bad.append(_too_long(b"\n".join([*(h.encode() for h in held), piece]), start,
                                 held_bytes + len(piece.rstrip(b"\r")), max_line))
            held, held_bytes, inside = [], 0, False
            continue
        text = piece.decode("utf-8", errors="replace")
        raw = text.rstrip("\r")
        if not held and not raw.strip():
            continue  # a blank line holds no record
        inside = _open_quote(raw, bool(held) and inside)
        held.append(text if inside else raw)  # a CR inside a quoted field is its own
        held_bytes += len(piece) + 1
        if inside and i + 1 < len(pieces):
            continue  # a line break inside a quoted field: the record goes on
        raw, held, held_bytes = "\n".join(held), [], 0
        line = start
        if "\ufffd" in raw:
            bad.append(BadRecord(line, withhold_ids(raw), "bad_encoding",
                                 "the line is not valid UTF-8"))
            continue
        rec = next(csv.reader([raw]))
        if len(rec) != len(names):
            detail = f"expected {len(names)} fields, found {len(rec)}"
            bad.append(BadRecord(line, withhold_ids(raw), "wrong_column_count", detail))
            continue
        for name, j in zip(keep, idx, strict=True):
            v = rec[j]
            cols[name].append(v if v != "" else None)
        lines.append(line)
    table = pa.table({n: pa.array(v, pa.string()) for n, v in cols.items()})
    return Chunk(table, pa.array(lines, pa.int64()), bad)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def csv_header(path: Path, feed: Feed) -> list[str]:
    """The CSV header's column names, checked against the feed (InvalidInput if lacking)."""
    names, _ = _csv_header(path)
    _check_header(path, feed, names)
    return names


def duckdb_csv_source(
    path: Path, feed: Feed, names: list[str], rejects: str | None, *, lines: bool = True,
    types: dict[str, str] | None = None, columns: list[str] | None = None,
) -> str:
    """A DuckDB table expression over a whole CSV file: the feed's columns as text, and
    ``_line`` (the header is line 1). Exact only when the file has no blank lines and no
    record with a wrong field count (see ``physical_lines`` and the ``rejects`` table).

    ``rejects=None``: a malformed record is an error instead of a row of ``rejects``.
    ``lines=False``: no ``_line`` (it costs a blocking window over the whole file).
    ``types``: columns parsed as these SQL types instead of text (a bad value is an error).
    ``columns``: the file's columns to give instead of the feed's (a feed profile's).
    """
    types = types or {}
    spec = "{" + ", ".join(f"{_lit(n)}: {_lit(types.get(n, 'VARCHAR'))}" for n in names) + "}"
    cols = _select_list(feed, names, types) if columns is None else ", ".join(map(_q, columns))
    line = "row_number() OVER () + 1 AS _line, " if lines else ""
    store = (
        f", store_rejects=true, rejects_table={_lit(rejects)}, "
        f"rejects_scan={_lit(rejects + '_scan')}"
        if rejects
        else ""
    )
    # A reader that parses timestamps takes exactly the feeds' form: one with an offset (which
    # DuckDB would drop) fails it, and the exact path converts it.
    fmt = f", timestampformat={_lit(TIMESTAMP_FORMAT)}" if "TIMESTAMP" in types.values() else ""
    return (
        f"(SELECT {line}{cols} FROM read_csv({_lit(str(path))}, "
        f"header=true, auto_detect=false, columns={spec}, delim=',', quote='\"', "
        f"escape='\"'{store}{fmt}))"
    )


def duckdb_parquet_source(path: Path, feed: Feed, *, lines: bool = True,
                          columns: list[str] | None = None) -> str:
    """A DuckDB table expression over a Parquet file: the feed's columns (or ``columns``,
    checked by the caller) and ``_line`` (row number from 1; left out when ``lines`` is
    false)."""
    try:
        names = pq.ParquetFile(path).schema_arrow.names
    except (pa.ArrowInvalid, OSError) as e:
        raise InvalidInput(f"{path}: not a readable Parquet file ({e})") from e
    if columns is None:
        _check_header(path, feed, names)
    cols = _select_list(feed, names) if columns is None else ", ".join(map(_q, columns))
    if not lines:
        return f"(SELECT {cols} FROM read_parquet({_lit(str(path))}))"
    return (
        f"(SELECT file_row_number + 1 AS _line, {cols} "
        f"FROM read_parquet({_lit(str(path))}, file_row_number=true))"
    )


def parquet_rows(path: Path) -> int:
    """Rows in a Parquet file, from its metadata."""
    return int(pq.ParquetFile(path).metadata.num_rows)


def physical_lines(path: Path) -> int:
    """Lines in a text file (a last line without a newline counts)."""
    return scan_text(path).lines


@dataclass(frozen=True)
class TextScan:
    """What one pass over a text file's bytes found."""

    lines: int  # physical lines (a last line without a newline counts)
    control: int  # control bytes: below 0x20 but tab, LF and CR; and DEL
    longest: int  # bytes of the longest line, its newline left out


def scan_text(path: Path) -> TextScan:
    """Count lines, control bytes and the longest line of a text file in one pass (run beside
    the direct path's COPY, which leaves those two per-field checks to it)."""
    # numpy's vectorised compare counts newlines about twice as fast as bytes.count.
    raw = bytearray(1 << 24)
    buf = np.frombuffer(raw, np.uint8)  # a view of raw, refilled in place
    n, last, control, longest, carry = 0, 10, 0, 0, 0
    with path.open("rb", buffering=0) as f:
        while k := f.readinto(raw):
            part = buf[:k]
            low = np.flatnonzero(part < 32)  # newlines, tabs, CRs and control bytes: few
            kinds = part[low]
            ends = low[kinds == 10]
            n += ends.size
            control += int(np.count_nonzero((kinds != 10) & (kinds != 9) & (kinds != 13)))
            control += int(np.count_nonzero(part == 127))
            if ends.size:
                longest = max(longest, carry + int(ends[0]))
                if ends.size > 1:
                    longest = max(longest, int(np.diff(ends).max()) - 1)
                carry = k - int(ends[-1]) - 1
            else:
                carry += k
            last = int(buf[k - 1])
    return TextScan(n + (last != 10), control, max(longest, carry))
