"""Publishing screening snapshots for the faces to follow: every version a folder of columns
written whole before it gets its name, and one small pointer file naming the current one.

    <directory>/versions/<version>/   a snapshot input: one .npy file a column + meta.json
    <directory>/CURRENT               the name of the current version, one line

``publish`` writes a version under a temporary name (each file written and fsynced, then the
folder fsynced), renames it into ``versions/`` and fsyncs that; then, holding a lock on the
directory, it points CURRENT at it (a temporary pointer written, fsynced, renamed over
CURRENT, the directory fsynced), unless a version finished later is current already, and
removes all but the newest ``keep`` versions, never the current one. So the pointer only ever
names a complete version, whatever crashes or races: a reader (``load_current``) that finds its
version removed in between reads the pointer again.

A directory written by earlier releases (columns and meta.json in the directory itself, no
pointer) still loads, as its one version.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from telshield.domain.errors import Conflict, InvalidInput, Unavailable
from telshield.screening.snapshot import Outcome, RiskPrefix, SnapshotInput

log = structlog.get_logger(__name__)

POINTER = "CURRENT"
VERSIONS = "versions"
_ARRAYS = ("list_numbers", "list_flags", "warned", "warned_tiers", "protected", "roaming",
           "ported", "ported_carriers")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
_STALE_TMP_S = 3600.0  # a temporary folder this old is a crashed publisher's: removed


def publish(data: SnapshotInput, directory: Path, *, keep: int = 3) -> str:
    """Write ``data`` as a new version under ``directory``, make it current and prune all but
    the newest ``keep`` versions; returns the version name (``data.version`` when given,
    which must be new, else one made from the time)."""
    if keep < 1:
        raise InvalidInput(f"keep={keep}: keep at least the current version (1)")
    name = data.version or _fresh_name()
    if not _NAME.match(name):
        raise InvalidInput(f"snapshot version {name!r}: use 1-120 letters, digits, '.', '_' "
                           "or '-', starting with a letter or digit")
    versions = directory / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    tmp = versions / f".{name}.{os.getpid()}.{time.time_ns()}"
    finished = time.time_ns()
    _write(replace(data, version=name), tmp, finished)
    target = versions / name
    try:
        tmp.rename(target)  # fails when a version of that name exists (a folder, not empty)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise Conflict(f"snapshot version {name!r} was already published in {directory}; "
                       "name another, or leave the name empty for one made from the time"
                       ) from None
    _fsync_dir(versions)
    with _locked(directory):
        current = current_version(directory)
        if current is None or _finished(versions / current) <= finished:
            _point(directory, name)
            current = name
        else:  # a version finished after this one is current already: it stays so
            log.info("screening.publish.superseded", version=name, current=current)
        removed = _prune(versions, keep, current)
    log.info("screening.published", version=name, current=current, removed=removed,
             numbers=int(data.list_numbers.size + data.warned.size + data.protected.size))
    return name


def current_version(directory: Path) -> str | None:
    """The name of the current version, or None when nothing was published."""
    try:
        name = (directory / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return _legacy_version(directory)
    return name or None


def load_current(directory: Path) -> SnapshotInput:
    """The current version's snapshot input; Unavailable when nothing was published."""
    for _ in range(5):
        name = current_version(directory)
        if name is None:
            raise Unavailable(
                f"no screening snapshot published in {directory}: build one "
                "(telshield screen build, or the operating cycle) and the faces pick it up")
        path = directory if (directory / "meta.json").is_file() and not (
            directory / POINTER).exists() else directory / VERSIONS / name
        try:
            return read_version(path)
        except FileNotFoundError:
            continue  # pruned after we read the pointer: read it again
    raise Unavailable(f"screening snapshot in {directory} keeps changing under the reader; "
                      "is a publisher pruning with keep=1 in a tight loop?")


def published_versions(directory: Path) -> list[str]:
    """The versions kept under ``directory``, oldest first."""
    versions = directory / VERSIONS
    if not versions.is_dir():
        return []
    found = [p for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return [p.name for p in sorted(found, key=_finished) if p.exists()]


def read_version(path: Path) -> SnapshotInput:
    """One version's snapshot input (a folder ``publish`` wrote)."""
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    arrays = {name: np.load(path / f"{name}.npy") for name in _ARRAYS
              if (path / f"{name}.npy").exists()}
    return SnapshotInput(
        **arrays,
        list_prefixes=tuple(
            (str(p), int(lo), int(hi), int(f)) for p, lo, hi, f in meta["list_prefixes"]
        ),
        risk_prefixes=tuple(
            RiskPrefix(p, Outcome(o), c, lo, hi) for p, o, c, lo, hi in meta["risk_prefixes"]
        ),
        plan=tuple((str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]) if len(r) > 4 else 0)
                   for r in meta.get("plan", [])),
        barred_tacs=tuple((str(t), str(k)) for t, k in meta.get("barred_tacs", [])),
        barred_imeis=tuple(str(i) for i in meta.get("barred_imeis", [])),
        as_of=float(meta["as_of"]),
        version=str(meta["version"]),
    )


def _write(data: SnapshotInput, folder: Path, finished_ns: int) -> None:
    """Every column and the meta file, each fsynced, then the folder."""
    folder.mkdir()
    for name in _ARRAYS:
        with (folder / f"{name}.npy").open("wb") as f:
            np.save(f, np.asarray(getattr(data, name)))
            _sync(f)
    meta: dict[str, Any] = {
        "as_of": data.as_of,
        "version": data.version,
        "finished_ns": finished_ns,
        "list_prefixes": [list(p) for p in data.list_prefixes],
        "risk_prefixes": [
            [r.prefix, r.outcome.value, r.code, r.min_len, r.max_len] for r in data.risk_prefixes
        ],
        "plan": [list(p) for p in data.plan],
        "barred_tacs": [list(t) for t in data.barred_tacs],
        "barred_imeis": list(data.barred_imeis),
    }
    with (folder / "meta.json").open("w", encoding="utf-8") as f:
        json.dump(meta, f)
        _sync(f)
    _fsync_dir(folder)


def _point(directory: Path, name: str) -> None:
    """Make CURRENT name ``name``: a temporary pointer fsynced, renamed over, dir fsynced."""
    tmp = directory / f".{POINTER}.{os.getpid()}.{time.time_ns()}"
    with tmp.open("w", encoding="utf-8") as f:
        f.write(name + "\n")
        _sync(f)
    tmp.replace(directory / POINTER)
    _fsync_dir(directory)


def _prune(versions: Path, keep: int, current: str) -> int:
    """Remove all but the newest ``keep`` versions (never ``current``) and stale temporary
    folders of crashed publishers; returns how many versions went."""
    now = time.time()
    for p in versions.iterdir():
        with contextlib.suppress(FileNotFoundError):  # renamed by its publisher meanwhile
            if p.name.startswith(".") and now - p.stat().st_mtime > _STALE_TMP_S:
                shutil.rmtree(p, ignore_errors=True)
    names = published_versions(versions.parent)
    old = [n for n in names[:-keep] if n != current]
    for n in old:
        shutil.rmtree(versions / n, ignore_errors=True)
    return len(old)


def _finished(folder: Path) -> int:
    """When a version was finished (ns), from its meta file; its folder's time otherwise."""
    try:
        return int(json.loads((folder / "meta.json").read_text(encoding="utf-8"))["finished_ns"])
    except (OSError, ValueError, KeyError):
        try:
            return int(folder.stat().st_mtime_ns)
        except FileNotFoundError:  # removed meanwhile
            return 0


def _legacy_version(directory: Path) -> str | None:
    """The version of a directory written by earlier releases (no pointer), if it is one."""
    try:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(meta.get("version") or "legacy")


def _fresh_name() -> str:
    ns = time.time_ns()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(ns // 10**9)) + \
        f".{ns % 10**9:09d}Z-{os.getpid()}"


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the snapshot directory (between publishers on this host)."""
    with (directory / ".lock").open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _sync(f: Any) -> None:
    f.flush()
    os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
