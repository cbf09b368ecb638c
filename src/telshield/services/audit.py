"""Reading and verifying the hash-chained audit log, and anchoring its head outside the store.

A checkpoint is one line appended to a file kept apart from the database (another disk, a
write-once bucket, the operator's log collector): the head's seq and hash, when, and an HMAC
over them under the chain's key. ``verify`` then also checks that the chain still holds every
checkpointed link: someone who rewrites the database from some event on (even holding the key)
or cuts its tail and moves the head is found by the first checkpoint past the rewrite.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from telshield.domain.audit import AuditKey, ChainedEvent, ChainReport, keyed_link, verify
from telshield.domain.errors import InvalidInput
from telshield.services.store import Store, UnitOfWork


def _all(tx: UnitOfWork, batch: int, after: int = 0) -> Iterator[ChainedEvent]:
    while True:
        events = tx.audit.read(after=after, limit=batch)
        if not events:
            return
        yield from events
        after = events[-1].seq


class AuditService:
    """Audit use cases: list events, verify the chain."""

    def __init__(self, store: Store, keys: Sequence[AuditKey] = ()) -> None:
        self.store = store
        self.keys = tuple(keys)  # the current key first, then earlier ones still trusted

    def events(self, *, after: int = 0, limit: int = 100, subject: str = "", actor: str = ""
               ) -> list[ChainedEvent]:
        """Events after seq ``after``, in order, filtered."""
        with self.store.transaction(write=False) as tx:
            return tx.audit.read(after=after, limit=limit, subject=subject, actor=actor)

    def verify(self, *, batch: int = 10_000) -> ChainReport:
        """Re-hash the whole chain and compare with the head: finds any edited, inserted or
        deleted event and says where."""
        with self.store.transaction(write=False) as tx:
            head = tx.audit.head()
            return verify(_all(tx, batch), head, self.keys)

    def verify_after(self, seq: int, link_hash: str, *, keyed_before: bool,
                     batch: int = 10_000) -> ChainReport:
        """Re-hash only the events after ``seq`` (whose hash is ``link_hash``, linked under a
        key if ``keyed_before``) and compare with the head."""
        with self.store.transaction(write=False) as tx:
            head = tx.audit.head()
            return verify(_all(tx, batch, after=seq), head, self.keys, start=(seq, link_hash),
                          keyed_before=keyed_before)


@dataclass(frozen=True)
class CheckpointReport:
    """What the checkpoints say of the chain: ``ok`` or the first that no longer holds."""

    ok: bool
    checked: int
    problem: str = ""
    line: int | None = None


def _mac(key: AuditKey, seq: int, head_hash: str, at: str) -> str:
    return hmac.new(key.key, f"{seq}|{head_hash}|{at}".encode(), hashlib.sha256).hexdigest()


def write_checkpoint(service: AuditService, path: Path, at: datetime) -> dict[str, object]:
    """Append the chain's head to ``path`` (one JSON line, fsynced); returns the line."""
    if not service.keys:
        raise InvalidInput("a checkpoint needs the installation secret (TELSHIELD_SECRET): on "
                           "the placeholder it would prove nothing")
    with service.store.transaction(write=False) as tx:
        seq, head_hash = tx.audit.head()
    key = service.keys[0]
    stamp = at.isoformat(timespec="seconds")
    line = {"seq": seq, "hash": head_hash, "at": stamp, "kid": key.kid,
            "mac": _mac(key, seq, head_hash, stamp)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.write(fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return line


def verify_checkpoints(service: AuditService, path: Path) -> CheckpointReport:
    """Check every checkpoint in ``path``: its MAC under a key of the ring, and that the chain
    still has its link (the event at its seq with its hash) and has not been cut before it."""
    if not path.is_file():
        return CheckpointReport(True, 0)
    ring = {k.kid: k for k in service.keys}
    n = 0
    with service.store.transaction(write=False) as tx:
        head_seq, _ = tx.audit.head()
        for i, text in enumerate(path.read_text().splitlines(), start=1):
            if not text.strip():
                continue
            n += 1
            try:
                c = json.loads(text)
                seq, head_hash, stamp, kid = int(c["seq"]), str(c["hash"]), str(c["at"]), c["kid"]
            except (ValueError, KeyError, TypeError):
                return CheckpointReport(False, n, f"{path}, line {i}: not a checkpoint", i)
            key = ring.get(kid)
            if key is None:
                return CheckpointReport(False, n, f"{path}, line {i}: signed by key {kid}, not "
                                        "in the ring (secret / secret_previous)", i)
            if not hmac.compare_digest(_mac(key, seq, head_hash, stamp), str(c.get("mac"))):
                return CheckpointReport(False, n, f"{path}, line {i}: its MAC does not match: "
                                        "the checkpoint file was edited", i)
            if seq > head_seq:
                return CheckpointReport(False, n, f"checkpoint of {stamp} saw event {seq}; the "
                                        f"chain now ends at {head_seq}: events were deleted", i)
            if seq == 0:
                continue
            got = tx.audit.read(after=seq - 1, limit=1)
            if not got or got[0].seq != seq or got[0].hash != head_hash:
                return CheckpointReport(False, n, f"checkpoint of {stamp}: event {seq} is no "
                                        "longer the one checkpointed: the chain was rewritten "
                                        "from there on", i)
    return CheckpointReport(True, n)


@dataclass(frozen=True)
class QuickReport:
    """The chain checked from its last checkpoint: every checkpoint's MAC and link, then a
    re-hash of the events after the last one. Events up to ``held_to`` are held by the
    checkpoints' links (a rewrite through them breaks a link) but were not re-hashed here: a
    full re-hash (``AuditService.verify``) also finds an event edited in place under a hash
    left as it was."""

    chain: ChainReport
    checkpoints: CheckpointReport
    held_to: int = 0  # the last checkpoint's seq; 0 when the whole chain was re-hashed
    stamp: str = ""  # when that checkpoint was written


def verify_from_checkpoint(service: AuditService, path: Path, *, batch: int = 10_000
                           ) -> QuickReport:
    """Check the checkpoints in ``path``, then re-hash the chain only after the last one (the
    whole chain when there is none): the cost of a check grows with the events since the last
    checkpoint, not with the chain."""
    checks = verify_checkpoints(service, path)
    if not checks.ok:
        return QuickReport(ChainReport(False, 0, checks.problem), checks)
    last = _last_line(path) if checks.checked else None
    if last is None or last[0] == 0:
        return QuickReport(service.verify(batch=batch), checks)
    seq, link_hash, stamp = last
    with service.store.transaction(write=False) as tx:
        (event,) = tx.audit.read(after=seq - 1, limit=1)  # checked present by the checkpoints
    keyed = keyed_link(event, service.keys)
    if keyed is None:
        return QuickReport(ChainReport(
            False, 0, f"event {seq} (checkpointed at {stamp}) was edited: its content does not "
            "match its hash under any key of the ring", seq), checks, seq, stamp)
    report = service.verify_after(seq, link_hash, keyed_before=keyed, batch=batch)
    return QuickReport(report, checks, seq, stamp)


def _last_line(path: Path) -> tuple[int, str, str] | None:
    """(seq, hash, when) of the file's last checkpoint (its lines already checked)."""
    lines = [x for x in path.read_text().splitlines() if x.strip()]
    if not lines:
        return None
    c = json.loads(lines[-1])
    return int(c["seq"]), str(c["hash"]), str(c["at"])
