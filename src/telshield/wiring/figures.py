"""Composition of the period figures (``services.figures``): the store, the numbering plan, and
the screened calls read from the screening faces' decision log (JSON lines, one file per
rotation; DuckDB reads them where they lie).

A rotated file never changes: its calls are counted once (per caller, UTC hour, route class and
outcome; ``services.figures.CountedPart``) into a small Parquet file beside it,
``<file>.routes.parquet``, which records the size and modification time of the file it counts
and the numbering plan it was counted with; a summary that no longer matches is counted again.
So a first view after a start reads the summaries and the open files only, and one after a
rotation counts the file just closed. The newest file of each writer (``decisions-<start>-<node>-``)
is open unless it has not changed for ``QUIET_S`` (its writer stopped). An open file's calls are
read as calls, incrementally: the lines appended since the last read are parsed and added to
those kept (``_OpenFiles``), so a view costs the new lines, not the whole open file (up to
``screening.log_max_bytes``); a file replaced or cut is read afresh.

The decision log holds every blocked, labelled or warned call; allowed calls only when
``screening.log_allowed`` is on. Without it, "screened" counts the calls screening acted on, and
a route's interception rate is that of the known fraud numbers' calls it acted on: the page and
``docs/web.md`` say so.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import structlog

from telshield.domain.clock import store_epoch
from telshield.services.figures import (
    COUNTED,
    SCREENED,
    CountedPart,
    Figures,
    ScreenedCalls,
    SplitCalls,
)
from telshield.services.store import Clock, Store
from telshield.settings import Settings

log = structlog.get_logger(__name__)

QUIET_S = 600.0  # a writer's newest file unchanged this long is closed (its writer stopped)
SUMMARY_SUFFIX = ".routes.parquet"

_COLUMNS = {"at": "DOUBLE", "caller": "VARCHAR", "callee": "VARCHAR", "ingress": "VARCHAR",
            "outcome": "VARCHAR"}


def decision_calls(directory: Path) -> ScreenedCalls:
    """The screened calls of a period, read from the decision log files in ``directory``."""

    def read(start: datetime, end: datetime) -> ir.Table:
        return _read_files(log_files(directory), start, end)

    return read


def _read_files(files: list[str], start: datetime | None = None,
                end: datetime | None = None) -> ir.Table:
    """The screened calls in ``files`` (of [start, end) when given)."""
    if not files:
        return ibis.memtable(SCREENED.to_pyarrow().empty_table())
    con = ibis.duckdb.connect()  # one per read: the pages' threads share no connection
    t = con.read_json(files, format="newline_delimited", columns=_COLUMNS, ignore_errors=True)
    t = t.select(*SCREENED.names).cast(SCREENED)
    if start is not None and end is not None:
        t = t.filter((t.at >= store_epoch(start)) & (t.at < store_epoch(end)))
    return t


class _OpenFiles:
    """The calls of the open log files, read incrementally: per file, the complete lines up to
    the offset last read, parsed, kept with the file's identity (device, inode). A read parses
    only the lines appended since (a line still being written waits for its newline); a file
    whose identity changed or that got shorter is read from the start. Files no longer open are
    forgotten. Lines that are not a call are skipped, as in a whole-file read."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[tuple[int, int], int, pa.Table]] = {}
        self._lock = threading.Lock()

    def calls(self, files: list[str]) -> pa.Table:
        """Every call of ``files`` (the open ones), as ``SCREENED``."""
        with self._lock:  # one reader at a time: what one parses, the next one keeps
            self._kept = {k: v for k, v in self._kept.items() if k in files}
            tables = [t for name in files if (t := self._read(name)) is not None]
        schema = SCREENED.to_pyarrow()
        return pa.concat_tables(tables) if tables else schema.empty_table()

    def _read(self, name: str) -> pa.Table | None:
        try:
            with open(name, "rb") as f:
                st = os.fstat(f.fileno())
                ident = (st.st_dev, st.st_ino)
                old = self._kept.get(name)
                if old is not None and old[0] == ident and st.st_size >= old[1]:
                    offset, table = old[1], old[2]
                else:
                    offset, table = 0, SCREENED.to_pyarrow().empty_table()
                f.seek(offset)
                data = f.read(st.st_size - offset)
        except FileNotFoundError:
            self._kept.pop(name, None)
            return None
        end = data.rfind(b"\n") + 1
        if end:
            table = pa.concat_tables([table, _parse_lines(data[:end])])
            offset += end
        self._kept[name] = (ident, offset, table)
        return table


def _parse_lines(data: bytes) -> pa.Table:
    """The calls in ``data`` (complete JSON lines of a decision log), as ``SCREENED``."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as tmp:  # DuckDB's reader, as for files
        tmp.write(data)
        tmp.flush()
        con = ibis.duckdb.connect()
        t = con.read_json(tmp.name, format="newline_delimited", columns=_COLUMNS,
                          ignore_errors=True)
        out = t.select(*SCREENED.names).cast(SCREENED).to_pyarrow()
        con.disconnect()
    return out


def decision_split(directory: Path, *, quiet_s: float = QUIET_S) -> SplitCalls:
    """The screened calls of a period from the decision log files in ``directory``: the closed
    files counted (read from their summaries, or counted and the summary written), the open
    ones as calls (read incrementally: ``_OpenFiles``). Summaries read are also kept in memory
    while their file is unchanged."""
    kept: dict[str, tuple[tuple[int, int, str], pa.Table]] = {}
    lock = threading.Lock()
    open_files = _OpenFiles()

    def split(start: datetime, end: datetime, count: Callable[[ir.Table], pa.Table],
              key: str) -> tuple[list[CountedPart], ir.Table]:
        files = log_files(directory)
        closed = set(closed_files(files, quiet_s=quiet_s))
        lo, hi = store_epoch(start), store_epoch(end)
        got: dict[str, pa.Table] = {}
        todo: dict[str, tuple[int, int, str]] = {}
        for name in sorted(closed):
            stat = os.stat(name)
            sig = (stat.st_size, stat.st_mtime_ns, key)
            with lock:
                mine = kept.get(name)
            counted = mine[1] if mine is not None and mine[0] == sig else _summary(name, sig)
            if counted is None:
                todo[name] = sig
            else:
                got[name] = counted
                with lock:
                    kept[name] = (sig, counted)
        if todo:  # the files closed since the last read (or never counted), in one query
            for name, counted in _write_summaries(todo, count).items():
                got[name] = counted
                with lock:
                    kept[name] = (todo[name], counted)
        parts = [CountedPart(c, functools.partial(_read_files, [name]))
                 for name, c in sorted(got.items()) if c.num_rows and _overlaps(c, lo, hi)]
        calls = ibis.memtable(open_files.calls([f for f in files if f not in closed]))
        return parts, calls.filter((calls.at >= lo) & (calls.at < hi))

    return split


def closed_files(files: list[str], *, quiet_s: float = QUIET_S) -> list[str]:
    """The files of ``files`` no writer appends to any more: all but each writer's newest, and
    that one too once it has not changed for ``quiet_s``."""
    newest: dict[str, str] = {}
    for name in sorted(files):
        newest[Path(name).name.rsplit("-", 1)[0]] = name  # decisions-<start>[-<node>]
    now = time.time()
    out = []
    for name in files:
        if name not in newest.values():
            out.append(name)
        else:
            try:
                if now - os.stat(name).st_mtime > quiet_s:
                    out.append(name)
            except FileNotFoundError:
                pass
    return out


def _overlaps(counted: pa.Table, lo: float, hi: float) -> bool:
    """Whether any counted group has calls in [lo, hi) as far as its first and last tell."""
    return bool(pc.any(pc.and_(pc.less(counted["first"], hi),
                               pc.greater_equal(counted["last"], lo))).as_py())


def _summary(name: str, sig: tuple[int, int, str]) -> pa.Table | None:
    """The summary beside ``name`` if it counts the file as it is now (``sig``), else None."""
    path = name + SUMMARY_SUFFIX
    try:
        meta = pq.read_schema(path).metadata or {}
        if meta.get(b"telshield.counts") != _stamp(sig):
            return None
        return pq.read_table(path).select(COUNTED.names).cast(COUNTED)
    except (OSError, pa.ArrowInvalid, KeyError):
        return None


def _write_summaries(todo: dict[str, tuple[int, int, str]],
                     count: Callable[[ir.Table], pa.Table]) -> dict[str, pa.Table]:
    """Count the files of ``todo`` (name -> what it is now) in one query and write each one's
    summary beside it (where the folder can be written: otherwise it is only kept in memory;
    not for a file that changed while counted)."""
    con = ibis.duckdb.connect()
    t = con.read_json(sorted(todo), format="newline_delimited", columns=_COLUMNS,
                      ignore_errors=True, filename="file")
    counted = count(t)
    out = {}
    for name, sig in todo.items():
        mine = counted.filter(pc.equal(counted["file"], name)).drop_columns(["file"])
        out[name] = mine
        after = os.stat(name)
        if (after.st_size, after.st_mtime_ns) != sig[:2]:
            continue  # it changed while counted: counted again next time
        table = mine.replace_schema_metadata({"telshield.counts": _stamp(sig)})
        path = Path(name + SUMMARY_SUFFIX)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, path)  # atomic: a reader never sees half a summary
        except OSError as e:
            log.warning("figures.summary_not_written", file=name, error=str(e))
            tmp.unlink(missing_ok=True)
    return out


def _stamp(sig: tuple[int, int, str]) -> bytes:
    return f"{sig[0]}:{sig[1]}:{sig[2]}".encode()


def log_files(directory: Path) -> list[str]:
    """The decision log's files (a rotation adds one: the overview's calls are read anew)."""
    return sorted(str(p) for p in directory.glob("decisions-*.jsonl")) \
        if directory.is_dir() else []


def figures(settings: Settings, store: Store, clock: Clock, *, max_age_s: float = 0.0,
            background: bool = False) -> Figures:
    """The period figures over ``store`` and the settings' decision log and numbering plan
    (the screened calls kept ``max_age_s`` between reads: the overview's page views)."""
    from telshield.reference.numbering import load_plan_table
    from telshield.wiring.screening import log_dir

    plan: list[ir.Table] = []

    def plan_table() -> ir.Table:
        if not plan:  # built (or read from its cache) on first use, then kept
            plan.append(ibis.memtable(load_plan_table(settings.data_dir)))
        return plan[0]

    folder = log_dir(settings)
    return Figures(store, clock, split=decision_split(folder), plan=plan_table,
                   province=settings.detect.province, max_age_s=max_age_s,
                   version=lambda: tuple(log_files(folder)), background=background,
                   ported=ported_numbers(settings.lake_dir))


def ported_numbers(lake: Path) -> Callable[[], ir.Table | None]:
    """The carrier serving each ported number (the lake's ported feed), read again only when
    the feed's files change; None while the lake has none."""
    from telshield.services.figures import serving_carriers
    from telshield.services.lakeread import FeedReader

    kept: list[tuple[tuple[str, ...], ir.Table | None]] = []
    reader = FeedReader(lake)

    def table() -> ir.Table | None:
        files = tuple(str(f) for f in reader.files("ported"))
        if not kept or kept[0][0] != files:
            got = reader.con.to_pyarrow(serving_carriers(reader.table("ported"))) if files \
                else None
            kept[:] = [(files, ibis.memtable(got) if got is not None else None)]
        return kept[0][1]

    return table
