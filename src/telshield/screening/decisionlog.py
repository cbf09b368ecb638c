"""The decision log, for appeals and statistics: who was blocked, why, when.

A seam (``DecisionLog``) with two implementations: in memory (tests) and append-only JSON lines
files, rotated by size, buffered and flushed on ``flush``/``close``. Each engine writes its own
files, named after its node (the prefix of its decision ids), so that ``find_decision`` goes
straight to the one file that can hold an id and searches its bytes, not its records.
"""

from __future__ import annotations

import mmap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

import msgspec

from telshield.domain.errors import InvalidInput, NotFound


class DecisionRecord(msgspec.Struct, array_like=False, gc=False):
    """One logged decision."""

    id: str
    at: float  # call set-up time, epoch seconds
    caller: str
    callee: str
    ingress: str
    outcome: str
    reasons: tuple[str, ...]
    snapshot: str  # version of the snapshot that decided


class DecisionLog(Protocol):
    """Where decisions are recorded."""

    def append(self, record: DecisionRecord) -> None:
        """Record one decision."""
        ...

    def flush(self) -> None:
        """Make what was appended durable."""
        ...


class MemoryDecisionLog:
    """A decision log in memory (tests, replay)."""

    def __init__(self) -> None:
        self.records: list[DecisionRecord] = []

    def append(self, record: DecisionRecord) -> None:
        """Record one decision."""
        self.records.append(record)

    def flush(self) -> None:
        """Nothing to flush."""


class JsonLinesDecisionLog:
    """Append-only JSON lines, one file per rotation: ``decisions-<start>-<node>-<n>.jsonl``
    (``node``: the engine's id prefix without its dash; files of earlier releases lack it)."""

    def __init__(
        self, directory: Path, *, max_bytes: int = 256 * 2**20, buffer_records: int = 512,
        node: str = "",
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.buffer_records = buffer_records
        self._encoder = msgspec.json.Encoder()
        self._buffer: list[bytes] = []
        self._file: IO[bytes] | None = None
        self._written = 0
        self._part = 0
        self._stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        if node:
            self._stamp += "-" + node.rstrip("-")
        # The SIP face appends from its UDP thread while the event loop flushes every second.
        self._lock = threading.Lock()

    def _open(self) -> IO[bytes]:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._part += 1
        path = self.directory / f"decisions-{self._stamp}-{self._part:04d}.jsonl"
        self._written = 0
        return path.open("ab")

    def append(self, record: DecisionRecord) -> None:
        """Buffer one decision; writes out every ``buffer_records``."""
        line = self._encoder.encode(record)
        with self._lock:
            self._buffer.append(line)
            if len(self._buffer) >= self.buffer_records:
                self._write()

    def _write(self) -> None:
        if not self._buffer:
            return
        data = b"\n".join(self._buffer) + b"\n"
        self._buffer = []
        if self._file is None or self._written + len(data) > self.max_bytes:
            if self._file is not None:
                self._file.close()
            self._file = self._open()
        self._file.write(data)
        self._written += len(data)

    def flush(self) -> None:
        """Write out the buffer and flush the file."""
        with self._lock:
            self._write()
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        """Flush and close the current file."""
        self.flush()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_decisions(directory: Path) -> Iterator[DecisionRecord]:
    """Every record in the JSON lines files of a decision-log directory, oldest file first."""
    decoder = msgspec.json.Decoder(DecisionRecord)
    for path in sorted(directory.glob("decisions-*.jsonl")):
        with path.open("rb") as f:
            for line in f:
                if line.strip():
                    yield decoder.decode(line)


def find_decision(directory: Path, decision_id: str) -> DecisionRecord:
    """The logged decision with this id (NotFound when it was not logged: an allowed call,
    unless ``log_allowed``, or an id from elsewhere).

    An id is ``<node>-<seq in hex>``: only the node's files can hold it, and its parts follow
    one another, so the part whose first record's seq is the last at or below the id's holds
    it; that file is searched as bytes for the id. Files without a node in their name (earlier
    releases) are searched the same way, all of them."""
    node, sep, seq_hex = decision_id.rpartition("-")
    try:
        seq = int(seq_hex, 16)
    except ValueError:
        seq = -1
    if not sep or not node or seq < 0 or not node.isalnum() or len(decision_id) > 64:
        raise InvalidInput(f"{decision_id!r} is not a decision id: a 608's Call-Info link and "
                           "the X-Telshield-Decision header carry it (e.g. 18f3a2b4c5d012-1f)")
    files = sorted(directory.glob(f"decisions-*-{node}-*.jsonl"))
    candidates = _parts_holding(files, seq) if files else sorted(
        directory.glob("decisions-*.jsonl"))
    needle = b'"id":"' + decision_id.encode() + b'"'
    decoder = msgspec.json.Decoder(DecisionRecord)
    for path in candidates:
        line = _line_with(path, needle)
        if line is not None:
            return decoder.decode(line)
    raise NotFound(f"decision {decision_id} is not in the decision log: only blocked, labelled "
                   "or warned calls are logged (screening.log_allowed logs every call)")


def _parts_holding(files: list[Path], seq: int) -> list[Path]:
    """The node's files that can hold ``seq``: the last whose first record is at or below it
    (then the others, should the log have been tampered with or reordered)."""
    firsts: list[tuple[int, Path]] = []
    for path in files:
        with path.open("rb") as f:
            first = f.readline()
        if first.strip():
            rec = msgspec.json.decode(first, type=DecisionRecord)
            firsts.append((int(rec.id.rpartition("-")[2], 16), path))
    firsts.sort()
    best = [p for s, p in firsts if s <= seq][-1:]
    return best + [p for _, p in firsts if p not in best]


def _line_with(path: Path, needle: bytes) -> bytes | None:
    """The line of ``path`` holding ``needle`` (a memory-mapped search, no decoding)."""
    with path.open("rb") as f:
        if path.stat().st_size == 0:
            return None
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            at = m.find(needle)
            if at < 0:
                return None
            start = m.rfind(b"\n", 0, at) + 1
            end = m.find(b"\n", at)
            return m[start : end if end >= 0 else len(m)]
