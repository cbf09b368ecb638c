"""Audit events: append-only, hash-chained, so an edited, inserted or deleted event shows.

The chain is keyed: each link is an HMAC-SHA256 under a key derived from the installation's
secret (``AuditKey``), so whoever can write the database but does not hold the secret cannot
re-hash the chain after an edit. A store written before keying holds a plain SHA-256 prefix;
verification accepts it, says how long it is, and refuses a plain link after a keyed one (a
rewrite without the key). Keys rotate: events verify under any key of the ring (the current
secret and earlier ones kept for the overlap), and the report says which key signed how many.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telshield.domain.numbers import mask

GENESIS = "0" * 64
_DERIVE = b"telshield audit chain v1"


@dataclass(frozen=True)
class AuditKey:
    """A chain key and its id (the first 8 hex digits of its SHA-256: safe to show)."""

    kid: str
    key: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, secret: str) -> AuditKey:
        """The chain key of an installation secret (never the secret itself)."""
        key = hmac.new(secret.encode(), _DERIVE, hashlib.sha256).digest()
        return cls(hashlib.sha256(key).hexdigest()[:8], key)


def canonical(detail: Mapping[str, Any]) -> str:
    """The one text form of an event's detail: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(
        dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


@dataclass(frozen=True)
class AuditEvent:
    """One thing someone did: who, what, on which subject, when, and why."""

    actor: str
    action: str  # e.g. "case.suspend", "list.add", "user.add"
    subject: str  # e.g. "case:12", "msisdn:8613812345678", "list:v7"
    at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)


# Detail keys whose values are numbers or identities, and subject kinds naming a number: what
# a role that sees masked numbers (``users.SEES_NUMBERS``) must not read in the audit either.
PERSONAL_KEYS = frozenset({"msisdn", "msisdns", "number", "numbers", "caller", "callee",
                           "value", "value_end", "requested_msisdn", "contact_msisdn",
                           "id_hash", "imei", "caller_imei"})
PERSONAL_SUBJECTS = ("msisdn:", "number:", "id:")
_HASH = re.compile(r"^[0-9a-f]{64}$")


def mask_personal(value: str) -> str:
    """A number or identity as a masked role sees it: a number as ``numbers.mask`` shows it,
    an ID hash by its first 8 hex digits (enough to tell two apart, not to look one up)."""
    if _HASH.match(value):
        return value[:8] + "…"
    return mask(value)


def masked(event: AuditEvent) -> AuditEvent:
    """``event`` with every number and identity in its subject and detail masked."""
    detail = {k: _masked_value(v) if k in PERSONAL_KEYS else v for k, v in event.detail.items()}
    subject = event.subject
    for kind in PERSONAL_SUBJECTS:
        if subject.startswith(kind):
            subject = kind + mask_personal(subject[len(kind):])
    return AuditEvent(event.actor, event.action, subject, event.at, detail)


def _masked_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_personal(value) if value else value
    if isinstance(value, list | tuple):
        return [_masked_value(v) for v in value]
    return value


@dataclass(frozen=True)
class ChainedEvent:
    """An event as stored: its place in the chain, its detail's text, the previous hash and
    its own. The hash covers the stored text, so nothing is re-serialised to verify."""

    seq: int
    event: AuditEvent
    prev_hash: str
    hash: str
    detail_text: str


def _message(prev_hash: str, seq: int, event: AuditEvent, detail_text: str) -> bytes:
    head = json.dumps(
        [event.actor, event.action, event.subject, event.at.isoformat()],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return f"{prev_hash}|{seq}|{head}|{detail_text}".encode()


def link(prev_hash: str, seq: int, event: AuditEvent, detail_text: str,
         key: AuditKey | None = None) -> str:
    """The hash of ``event`` (with its detail as ``detail_text``) at ``seq`` after ``prev_hash``:
    an HMAC under ``key``, or plain SHA-256 without one (stores written before keying)."""
    msg = _message(prev_hash, seq, event, detail_text)
    if key is None:
        return hashlib.sha256(msg).hexdigest()
    return hmac.new(key.key, msg, hashlib.sha256).hexdigest()


def chain(prev_seq: int, prev_hash: str, events: Iterable[AuditEvent],
          key: AuditKey | None = None) -> list[ChainedEvent]:
    """Events linked after the head ``(prev_seq, prev_hash)``, under ``key``."""
    out: list[ChainedEvent] = []
    for e in events:
        prev_seq += 1
        text = canonical(e.detail)
        h = link(prev_hash, prev_seq, e, text, key)
        out.append(ChainedEvent(prev_seq, e, prev_hash, h, text))
        prev_hash = h
    return out


@dataclass(frozen=True)
class ChainReport:
    """What verification found: ``ok`` or the first problem and where it is."""

    ok: bool
    checked: int
    problem: str = ""
    seq: int | None = None
    unkeyed: int = 0  # events at the start linked by plain SHA-256 (written before keying)
    keyed: dict[str, int] = field(default_factory=dict)  # events per key id


def _signer(ce: ChainedEvent, keys: Sequence[AuditKey]) -> AuditKey | bool | None:
    """The key of ``keys`` whose link matches the event's hash, None for a plain link, False
    for none at all."""
    msg = _message(ce.prev_hash, ce.seq, ce.event, ce.detail_text)
    for k in keys:
        if hmac.compare_digest(hmac.new(k.key, msg, hashlib.sha256).hexdigest(), ce.hash):
            return k
    if hashlib.sha256(msg).hexdigest() == ce.hash:
        return None
    return False


def keyed_link(ce: ChainedEvent, keys: Sequence[AuditKey]) -> bool | None:
    """Whether the event is linked under a key of ``keys`` (True) or by plain SHA-256 (False);
    None when its content matches its hash under neither (it was edited)."""
    signer = _signer(ce, keys)
    return None if signer is False else signer is not None


def verify(events: Iterable[ChainedEvent], head: tuple[int, str] | None = None,
           keys: Sequence[AuditKey] = (), *, start: tuple[int, str] = (0, GENESIS),
           keyed_before: bool = False) -> ChainReport:
    """Check the chain in order of ``seq``; ``head`` (last seq, last hash) catches a cut tail;
    ``keys`` (current first) verify keyed links. ``start`` (seq, hash) checks only the events
    after a link known good (a checkpoint's), ``keyed_before`` saying whether that link was
    keyed (then every later one must be)."""
    expect_seq, expect_prev, n = start[0] + 1, start[1], 0
    ring = list(keys)
    keyed: dict[str, int] = {}
    unkeyed = 0
    for ce in events:
        n += 1
        if ce.seq != expect_seq:
            kind = "deleted" if ce.seq > expect_seq else "inserted or duplicated"
            return ChainReport(
                False, n, f"events {kind}: expected seq {expect_seq}, found {ce.seq}", ce.seq
            )
        if ce.prev_hash != expect_prev:
            return ChainReport(
                False,
                n,
                f"event {ce.seq} does not follow event {ce.seq - 1} "
                "(an event before it was inserted, deleted or edited)",
                ce.seq,
            )
        signer = _signer(ce, ring)
        if signer is False:
            return ChainReport(
                False, n, f"event {ce.seq} was edited: its content does not match its hash "
                "under any key of the ring (or the installation secret that wrote it is not "
                "in secret / secret_previous)", ce.seq, unkeyed, keyed)
        if signer is None:
            if keyed or keyed_before:
                return ChainReport(
                    False, n, f"event {ce.seq} is linked without the key after keyed events: "
                    "rewritten by someone without the installation secret", ce.seq, unkeyed,
                    keyed)
            unkeyed += 1
        else:
            assert isinstance(signer, AuditKey)
            keyed[signer.kid] = keyed.get(signer.kid, 0) + 1
            if ring[0] is not signer:  # the key that signed the last event is tried first
                ring.remove(signer)
                ring.insert(0, signer)
        expect_seq, expect_prev = ce.seq + 1, ce.hash
    if head is not None and (head[0] != expect_seq - 1 or (head[0] > 0 and head[1] != expect_prev)):
        return ChainReport(
            False,
            n,
            f"the chain ends at seq {expect_seq - 1} but its head says "
            f"{head[0]}: events at the end were deleted or added",
            expect_seq - 1, unkeyed, keyed,
        )
    return ChainReport(True, n, unkeyed=unkeyed, keyed=keyed)
