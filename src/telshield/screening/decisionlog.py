"""The decision log, for appeals and statistics: who was blocked, why, when.

A seam (``DecisionLog``) with two implementations: in memory (tests) and append-only JSON lines
files, rotated by size, buffered and flushed on ``flush``/``close``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

import msgspec


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
    """Append-only JSON lines, one file per rotation: ``decisions-<start>-<n>.jsonl``."""

    def __init__(
        self, directory: Path, *, max_bytes: int = 256 * 2**20, buffer_records: int = 512
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
