"""Black/white/grey list management (黑白名单管理): versioned changes, CSV import/export,
expiry, and the effective entries at any version for the screening snapshot."""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import structlog

from telshield.domain.audit import AuditEvent
from telshield.domain.errors import Conflict, Forbidden, InvalidInput, TelshieldError
from telshield.domain.lists import (
    ListDiff,
    ListDiffPage,
    ListEntry,
    content_hash,
    detection_cap,
    effective,
    entry_key,
    too_wide,
    white_width,
)
from telshield.services.store import Clock, Page, Store

log = structlog.get_logger(__name__)

CSV_COLUMNS = ("kind", "value", "value_end", "colour", "source", "reason", "expires_at",
               "police_ordered", "owner")
SNAPSHOT_COLUMNS = ("id", "kind", "value", "value_end", "colour", "source", "police_ordered",
                    "expires_at")


@dataclass(frozen=True)
class ImportReport:
    """What a CSV import did: the version it created and each rejected row with its reason."""

    version: int | None
    added: int
    errors: tuple[tuple[int, str], ...]  # (line number, what was wrong)
    already: int = 0  # rows whose entry is live already (a re-run adds nothing) or repeated


@dataclass(frozen=True)
class ImportCheck:
    """An import whose entries no longer hash to what its audit event recorded."""

    version: int
    recorded: str
    found: str


class _NothingNew(Exception):
    def __init__(self, already: int) -> None:
        super().__init__(already)
        self.already = already


def _parse_time(text: str, line: int) -> datetime | None:
    if not text.strip():
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise InvalidInput(f"expires_at {text!r} on line {line} is not YYYY-MM-DD HH:MM:SS"
                           ) from None


COLOUR_CODES = {"grey": 0, "black": 1, "white": 2}


@dataclass(frozen=True)
class ListColumns:
    """The number entries of one list version as arrays, plus the other entries."""

    version: int
    numbers: npt.NDArray[np.int64]  # E.164 digits as integers
    colours: npt.NDArray[np.uint8]  # COLOUR_CODES
    police: npt.NDArray[np.bool_]  # police-ordered blocks
    others: tuple[ListEntry, ...]  # prefix, range, IMEI and ID entries


class ListService:
    """List use cases; every change is one new list version with its audit event."""

    def __init__(self, store: Store, clock: Clock, *, white_min_digits: int = 0) -> None:
        """``white_min_digits``: white prefixes and ranges pinning fewer leading digits are
        added only with ``wide_ok`` (an admin's word; ``domain.lists.too_wide``)."""
        self.store, self.clock = store, clock
        self.white_min_digits = white_min_digits

    def add(self, kind: str, value: str, colour: str, *, source: str, reason: str, actor: str,
            expires_at: datetime | None = None, value_end: str = "",
            police_ordered: bool = False, owner: str = "", wide_ok: bool = False) -> ListEntry:
        """Add one entry at a new list version (with ``owner``: an enterprise whitelist entry,
        white and with an expiry)."""
        at = self.clock.now()
        entry = ListEntry.new(kind, value, colour, source=source, reason=reason, actor=actor,
                              at=at, expires_at=expires_at, value_end=value_end,
                              police_ordered=police_ordered, owner=owner)
        if not wide_ok:
            self._check_width(entry)
        (stored,) = self._add([entry], actor=actor, note=f"add {entry.kind.value} {entry.value}")
        return stored

    def add_many(self, entries: Sequence[ListEntry], *, actor: str, note: str
                 ) -> list[ListEntry]:
        """Add several entries at one new list version (one audit event)."""
        if not entries:
            return []
        return self._add(entries, actor=actor, note=note)

    def _add(self, entries: Sequence[ListEntry], *, actor: str, note: str) -> list[ListEntry]:
        at = self.clock.now()
        with self.store.transaction() as tx:
            version = tx.lists.new_version(actor=actor, note=note, at=at)
            stored = tx.lists.add(entries, version)
            detail: dict[str, Any] = {"version": version, "added": len(stored)}
            if len(stored) == 1:
                e = stored[0]
                detail.update(id=e.id, kind=e.kind.value, value=e.value, colour=e.colour.value,
                              source=e.source.value, reason=e.reason)
                if e.value_end:
                    detail.update(value_end=e.value_end)
                if e.owner:
                    detail.update(owner=e.owner, expires_at=e.expires_at.isoformat()
                                  if e.expires_at else None)
            tx.audit.append([AuditEvent(actor, "list.add", f"list:v{version}", at, detail)])
        log.info("lists.added", version=version, added=len(stored))
        return stored

    def _check_width(self, entry: ListEntry) -> None:
        if too_wide(entry, self.white_min_digits):
            raise Forbidden(
                f"a white {entry.kind.value} pinning {white_width(entry)} leading digits "
                f"({entry.value}{'..' + entry.value_end if entry.value_end else ''}) whitelists "
                f"too many numbers for one person's word (lists.white_min_digits = "
                f"{self.white_min_digits}): narrow it, or ask an admin to add it")

    def remove(self, entry_id: int, *, actor: str, reason: str) -> int:
        """Remove one entry at a new list version; returns the version. A police-ordered
        block is refused: it is lifted only under a police release (``lift_police_block``)."""
        if not reason.strip():
            raise InvalidInput("removing a list entry needs a reason")
        return self._remove(entry_id, actor=actor, action="list.remove", police=False,
                            detail={"reason": reason})

    def lift_police_block(self, entry_id: int, *, actor: str, reason: str, release_ref: str
                          ) -> int:
        """Lift a police-ordered block under the police release ``release_ref`` (recorded in
        the audit event); only police and admins are let here by the edges."""
        release_ref = release_ref.strip()
        if not release_ref or len(release_ref) > 128:
            raise InvalidInput("lifting a police-ordered block needs release_ref: the reference "
                               "(1-128 characters) of the police's written release")
        if not reason.strip():
            raise InvalidInput("lifting a police-ordered block needs a reason")
        return self._remove(entry_id, actor=actor, action="list.police_lift", police=True,
                            detail={"reason": reason, "release_ref": release_ref})

    def _remove(self, entry_id: int, *, actor: str, action: str, police: bool,
                detail: dict[str, str]) -> int:
        at = self.clock.now()
        with self.store.transaction() as tx:
            entry = tx.lists.get(entry_id)
            if entry.police_ordered and not police:
                raise Forbidden(
                    f"list entry {entry_id} is a police-ordered block: only police or an admin "
                    f"lift it, with the police's release reference, at DELETE "
                    f"/lists/police-blocks/{entry_id} (CLI: lists remove --police-release REF)")
            if police and not entry.police_ordered:
                raise Conflict(f"list entry {entry_id} is not a police-ordered block: remove it "
                               f"at DELETE /lists/{entry_id}")
            version = tx.lists.new_version(actor=actor, note=f"remove {entry_id}", at=at)
            if tx.lists.remove([entry_id], version) == 0:
                raise InvalidInput(f"list entry {entry_id} was already removed")
            tx.audit.append([AuditEvent(actor, action, f"list:v{version}", at, {
                "version": version, "id": entry_id, "kind": entry.kind.value,
                "value": entry.value, "value_end": entry.value_end, **detail})])
        return version

    def expire(self, *, actor: str = "system") -> int | None:
        """Remove every entry whose expiry has passed, at one new version (None: nothing due)."""
        at = self.clock.now()
        with self.store.transaction() as tx:
            due = tx.lists.expired(at)
            if not due:
                return None
            version = tx.lists.new_version(actor=actor, note=f"expire {len(due)}", at=at)
            tx.lists.remove(due, version)
            tx.audit.append([AuditEvent(actor, "list.expire", f"list:v{version}", at,
                                        {"version": version, "removed": len(due)})])
        log.info("lists.expired", version=version, removed=len(due))
        return version

    def import_csv(self, rows: IO[str], *, actor: str, default_source: str = "manual",
                   wide_ok: bool = False) -> ImportReport:
        """Import entries from CSV (header ``CSV_COLUMNS``; kind/value/colour/reason required):
        good rows at one new version, each bad row reported with its line and reason (a white
        prefix or range wider than the bound is a bad row unless ``wide_ok``)."""
        reader = csv.DictReader(rows)
        missing = {"kind", "value", "colour", "reason"} - set(reader.fieldnames or ())
        if missing:
            raise InvalidInput(f"CSV header lacks {sorted(missing)}; expected {CSV_COLUMNS}")
        at = self.clock.now()
        good: list[ListEntry] = []
        errors: list[tuple[int, str]] = []
        for row in reader:
            line = reader.line_num
            try:
                entry = ListEntry.new(
                    row["kind"] or "", row["value"] or "", row["colour"] or "",
                    source=row.get("source") or default_source, reason=row["reason"] or "",
                    actor=actor, at=at, expires_at=_parse_time(row.get("expires_at") or "", line),
                    value_end=row.get("value_end") or "",
                    police_ordered=(row.get("police_ordered") or "").strip().lower()
                    in ("1", "true", "yes"),
                    owner=row.get("owner") or "",
                )
                if not wide_ok:
                    self._check_width(entry)
                good.append(entry)
            except TelshieldError as e:
                errors.append((line, str(e)))
        stored, already = self._import(good, actor=actor)
        version = stored[0].version if stored else None
        return ImportReport(version, len(stored), tuple(errors), already)

    def _import(self, entries: Sequence[ListEntry], *, actor: str
                ) -> tuple[list[ListEntry], int]:
        """Add the entries not live already (nor repeated in the file), at one version whose
        audit event records their content hash; (stored, left out)."""
        if not entries:
            return [], 0
        try:
            return self._import_new(entries, actor=actor)
        except _NothingNew as e:  # the version it allocated is rolled back with it
            log.info("lists.imported", added=0, already=e.already)
            return [], e.already

    def _import_new(self, entries: Sequence[ListEntry], *, actor: str
                    ) -> tuple[list[ListEntry], int]:
        at = self.clock.now()
        with self.store.transaction() as tx:
            # Under the version lock: two imports of one file cannot both find it absent.
            version = tx.lists.new_version(actor=actor, note=f"import {len(entries)} row(s)",
                                           at=at)
            seen = tx.lists.live_keys([e.value for e in entries])
            fresh: list[ListEntry] = []
            for e in entries:
                k = entry_key(e)
                if k not in seen:
                    seen.add(k)
                    fresh.append(e)
            already = len(entries) - len(fresh)
            if not fresh:
                raise _NothingNew(already)
            stored = tx.lists.add(fresh, version)
            tx.audit.append([AuditEvent(actor, "list.add", f"list:v{version}", at, {
                "version": version, "added": len(stored), "already": already,
                "content_sha256": content_hash(stored)})])
        log.info("lists.imported", version=version, added=len(stored), already=already)
        return stored, already

    def verify_imports(self) -> list[ImportCheck]:
        """Recompute each recorded import's content hash from the stored entries: an entry
        edited, added or deleted in the database since shows as a mismatch."""
        out: list[ImportCheck] = []
        with self.store.transaction(write=False) as tx:
            after = 0
            while events := tx.audit.read(after=after, limit=10_000):
                after = events[-1].seq
                for ce in events:
                    recorded = ce.event.detail.get("content_sha256")
                    if ce.event.action != "list.add" or not recorded:
                        continue
                    v = int(ce.event.detail["version"])
                    found = content_hash(tx.lists.added_at(v))
                    if found != recorded:
                        out.append(ImportCheck(v, str(recorded), found))
        return out

    def export_csv(self, out: IO[str], *, version: int | None = None) -> int:
        """Write the entries live at ``version`` (default: now) as CSV; returns the row count."""
        w = csv.writer(out)
        w.writerow(CSV_COLUMNS)
        n = 0
        for batch in self.entries_at(version):
            for e in batch:
                w.writerow([e.kind.value, e.value, e.value_end, e.colour.value, e.source.value,
                            e.reason, e.expires_at.strftime("%Y-%m-%d %H:%M:%S")
                            if e.expires_at else "", "true" if e.police_ordered else "",
                            e.owner])
                n += 1
        return n

    # -- for screening ------------------------------------------------------------------------

    def current_version(self) -> int:
        """The latest list version."""
        with self.store.transaction(write=False) as tx:
            return tx.lists.current_version()

    def entries_at(self, version: int | None = None, *, batch: int = 100_000
                   ) -> Iterator[list[ListEntry]]:
        """Every entry in force at list ``version`` (default: the latest), in batches.
        This is what the screening snapshot is built from; expired-but-not-yet-removed entries
        are included with their ``expires_at`` so the snapshot can honour it."""
        with self.store.transaction(write=False) as tx:
            v = tx.lists.current_version() if version is None else version
            yield from tx.lists.at_version(v, batch)

    def number_columns(self, version: int | None = None, *, at: datetime | None = None
                       ) -> ListColumns:
        """The list at ``version`` (default: latest) as numpy columns for the screening
        snapshot: number entries in force at ``at`` (default: now) as arrays, every other
        entry (prefix, range, IMEI, ID) as domain objects. Duplicates are kept: the snapshot
        combines them, and ``domain.lists.effective`` says which wins."""
        at = at or self.clock.now()
        numbers: list[npt.NDArray[np.int64]] = []
        colours: list[npt.NDArray[np.uint8]] = []
        police: list[npt.NDArray[np.bool_]] = []
        with self.store.transaction(write=False) as tx:
            v = tx.lists.current_version() if version is None else version
            for rows in tx.lists.number_rows_at(v):
                live = [r for r in rows if r[3] is None or at < r[3]]
                numbers.append(np.array([r[0] for r in live], dtype=np.str_).astype(np.int64))
                colours.append(np.array([COLOUR_CODES[r[1]] for r in live], dtype=np.uint8))
                police.append(np.array([r[2] for r in live], dtype=np.bool_))
            others = tuple(e for batch in tx.lists.at_version(
                v, kinds=("prefix", "range", "imei", "id_hash")) for e in batch if e.active(at))
        return ListColumns(
            version=v,
            numbers=np.concatenate(numbers) if numbers else np.empty(0, np.int64),
            colours=np.concatenate(colours) if colours else np.empty(0, np.uint8),
            police=np.concatenate(police) if police else np.empty(0, np.bool_),
            others=others,
        )

    def snapshot_columns(self, version: int | None = None) -> dict[str, list[Any]]:
        """The entries at ``version`` as plain columns (``SNAPSHOT_COLUMNS``), Arrow-ready."""
        cols: dict[str, list[Any]] = {c: [] for c in SNAPSHOT_COLUMNS}
        for batch in self.entries_at(version):
            for e in batch:
                cols["id"].append(e.id)
                cols["kind"].append(e.kind.value)
                cols["value"].append(e.value)
                cols["value_end"].append(e.value_end)
                cols["colour"].append(e.colour.value)
                cols["source"].append(e.source.value)
                cols["police_ordered"].append(e.police_ordered)
                cols["expires_at"].append(e.expires_at)
        return cols

    def diff(self, from_version: int, to_version: int) -> ListDiff:
        """What changed between two list versions."""
        if min(from_version, to_version) < 0:
            raise InvalidInput("list versions start at 0")
        with self.store.transaction(write=False) as tx:
            return tx.lists.diff(from_version, to_version)

    def diff_page(self, from_version: int, to_version: int, *, after_added: int = 0,
                  after_removed: int = 0, limit: int = 500) -> ListDiffPage:
        """One page of what changed between two list versions, with each side's total
        (computed in the store: a bulk version is never read whole to show a page)."""
        if min(from_version, to_version) < 0:
            raise InvalidInput("list versions start at 0")
        if min(after_added, after_removed) < 0:
            raise InvalidInput("after_added / after_removed: an entry id, 0 for the first page")
        with self.store.transaction(write=False) as tx:
            return tx.lists.diff_page(from_version, to_version, after_added=after_added,
                                      after_removed=after_removed, limit=limit)

    # -- reading -------------------------------------------------------------------------------

    def find(self, *, value: str = "", kind: str = "", colour: str = "", source: str = "",
             page: Page = Page()) -> list[ListEntry]:
        """Live entries, newest first."""
        with self.store.transaction(write=False) as tx:
            return tx.lists.find(value=value, kind=kind, colour=colour, source=source, page=page)

    def enterprise(self) -> list[ListEntry]:
        """The enterprise whitelist (live entries with an owner), the soonest to expire first."""
        with self.store.transaction(write=False) as tx:
            owned = tx.lists.owned()
        return sorted(owned, key=lambda e: (e.expires_at or datetime.max, e.id or 0))

    def whitelisted(self, numbers: Collection[str], at: datetime) -> dict[str, ListEntry]:
        """The enterprise whitelist entry in force at ``at`` that caps detection of each of
        ``numbers`` covered by one (``domain.lists.detection_cap``: none where a police-ordered
        block covers the number too)."""
        with self.store.transaction(write=False) as tx:
            owned = [e for e in tx.lists.owned() if e.active(at)]
            if not owned:
                return {}
            out: dict[str, ListEntry] = {}
            for n in numbers:
                if any(e.matches_number(n) for e in owned):
                    cap = detection_cap(tx.lists.covering(n), at)
                    if cap is not None:
                        out[n] = cap
            return out

    def decide(self, number: str) -> ListEntry | None:
        """The entry that decides for ``number`` now (whitelist beats blacklist, except a
        police-ordered block), or None if no entry covers it."""
        with self.store.transaction(write=False) as tx:
            return effective(tx.lists.covering(number), self.clock.now())

