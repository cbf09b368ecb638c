"""Feed profiles: how one source's export maps onto our feed schemas, applied in SQL at ingest.

A profile is a TOML file, one per source (an operator's BSS, another province's police feed). For
each feed it may rename columns, map enum values (``个人`` -> ``individual``), give a fallback
for an open vocabulary (a clue's fraud type), declare the format of identity hashes, the time
zone and format of timestamps written without an offset, and defaults for columns the export
lacks. ``FeedProfile.project`` turns a raw table expression (the file's own columns) into one with
the feed's columns, so that validation, the direct COPY path and the exact path read through it
unchanged: the mapping is a projection DuckDB runs vectorised, never a Python loop over rows.

Hashes are never un-hashed. A 64-hex digest (our HMAC-SHA256) is only lowercased; a shorter
digest from the source's own keyed hash (``hex32``: 32 hex digits, ``hex40``: 40) is stored as
``sha256('<namespace>:' || lower(digest))``, 64 hex digits in the profile's namespace: equal
identities of that source stay equal across its feeds, and they never collide with, nor claim
to be, the installation's own HMACs.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telshield.domain.errors import InvalidInput
from telshield.reference.schemas import FEEDS, Check, Column, Feed

FEED_ZONE = "Asia/Shanghai"  # China Standard Time, UTC+8 without daylight saving since 1991
HASH_FORMATS = {
    "hex64": 64,  # our own HMAC-SHA256 hex digest (any case; lowercased)
    "hex40": 40,  # the source's own 160-bit keyed hash (re-hashed into the namespace)
    "hex32": 32,  # the source's own 128-bit keyed hash (re-hashed into the namespace)
}
_TOP_KEYS = {"name", "hash_namespace", "timezone", "time_format", *FEEDS}
_FEED_KEYS = {"columns", "values", "fallback", "hashes", "defaults", "timezone", "time_format"}
# A timestamp without an offset, as validation reads it (validate._LOCAL).
_NAIVE = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
          r"([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?$")
# How a converted timestamp is written for validation to read (the exact path).
TIMESTAMP_TEXT = "%Y-%m-%d %H:%M:%S.%f"


def _enum(c: Column) -> str:
    return ", ".join(_lit(v) for v in c.values) or "NULL"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class FeedProfile:
    """One feed's part of a profile (an empty one changes nothing)."""

    feed: Feed
    origin: str  # the profile file, for messages
    namespace: str
    renames: dict[str, str] = field(default_factory=dict)  # our column -> their column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # col -> their -> ours
    fallback: dict[str, str] = field(default_factory=dict)  # col -> value for unmapped ones
    hashes: dict[str, str] = field(default_factory=dict)  # col -> format (HASH_FORMATS)
    defaults: dict[str, str] = field(default_factory=dict)  # col -> value when not exported
    timezone: str = FEED_ZONE
    time_format: str | None = None  # strptime format of naive timestamps; None: ISO

    def source_name(self, col: str) -> str:
        """Our column's name in the export."""
        return self.renames.get(col, col)

    def _times_change(self) -> bool:
        return self.timezone != FEED_ZONE or self.time_format is not None

    def missing(self, header: Sequence[str]) -> list[str]:
        """Feed columns neither in ``header`` (under their export name) nor defaulted."""
        return [c.name for c in self.feed.columns
                if self.source_name(c.name) not in header and c.name not in self.defaults]

    def unknown(self, header: Sequence[str]) -> list[str]:
        """Export columns that map to no feed column (ingest ignores them)."""
        used = {self.source_name(c) for c in self.feed.column_names}
        return [h for h in header if h not in used]

    def source_columns(self, header: Sequence[str]) -> list[str]:
        """The export's columns that ingest reads, in feed order."""
        names = [self.source_name(c) for c in self.feed.column_names]
        return list(dict.fromkeys(n for n in names if n in header))  # each once

    def check_header(self, path: Path, header: Sequence[str]) -> None:
        """InvalidInput naming the file, the profile and each feed column the export lacks."""
        missing = self.missing(header)
        if missing:
            named = ", ".join(
                f"{c} (as {self.source_name(c)!r})" if c in self.renames else c for c in missing)
            raise InvalidInput(
                f"{path}: header lacks column(s) {named} of feed {self.feed.name!r} under "
                f"profile {self.origin}; rename them in its [{self.feed.name}.columns] or give "
                f"[{self.feed.name}.defaults] (see docs/feeds.md, Feed profiles)")

    def reader_types(self, header: Sequence[str], types: dict[str, str]) -> dict[str, str]:
        """The direct path's reader types (feed column -> SQL type) keyed by export name;
        a timestamp in a format of the profile's own is read as text, for ``_time`` to parse."""
        out = {}
        for col, sql in types.items():
            if col in self.defaults and self.source_name(col) not in header:
                continue
            if sql == "TIMESTAMP" and self.time_format is not None:
                continue  # parsed in ``_time`` with the profile's format
            out[self.source_name(col)] = sql
        return out

    def project(self, source: str, header: Sequence[str], *, typed: bool, lines: bool) -> str:
        """A table expression with the feed's columns (and ``_line`` when ``lines``) over
        ``source``, a table expression with the export's columns.

        ``typed``: the direct path, whose reader parsed timestamps (``reader_types``) and which
        must fail on a bad value; otherwise every value comes out as text (or as read), and a
        value the profile cannot convert is left as it was, for validation to quarantine.
        """
        cols = [f"{self._expr(c, header, typed)} AS {_q(c.name)}" for c in self.feed.columns]
        line = "_line, " if lines else ""
        return f"(SELECT {line}{', '.join(cols)} FROM {source})"

    def _expr(self, c: Column, header: Sequence[str], typed: bool) -> str:
        src = self.source_name(c.name)
        if src not in header:
            default = self.defaults[c.name]
            kind = "TIMESTAMP" if typed and c.check == Check.TIMESTAMP else "VARCHAR"
            return f"CAST({_lit(default) if default else 'NULL'} AS {kind})"
        col = _q(src)
        # Values are compared as exported (a trim per value would cost a third of the COPY).
        text = f"CAST({col} AS VARCHAR)"
        if c.check == Check.TIMESTAMP and self._times_change():
            return self._time(col, text, typed)
        if c.check == Check.HASH and c.name in self.hashes:
            return self._hash(text, HASH_FORMATS[self.hashes[c.name]])
        if c.name in self.values or c.name in self.fallback:
            whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}"
                             for k, v in self.values.get(c.name, {}).items())
            other = text  # NULL stays NULL
            if c.name in self.fallback:  # an open vocabulary: a code of ours is kept
                other = (f"(CASE WHEN {text} IS NULL OR {text} = '' OR {text} IN ({_enum(c)}) "
                         f"THEN {text} ELSE {_lit(self.fallback[c.name])} END)")
            return f"(CASE {text} {whens} ELSE {other} END)" if whens else other
        return col

    def _hash(self, text: str, digits: int) -> str:
        pattern = _lit(f"^[0-9a-fA-F]{{{digits}}}$")
        if digits == 64:
            normal, other = f"lower({text})", text
        else:
            # Not the declared format: marked, so that it never passes for a digest (a 64-hex
            # one would otherwise mix the installation's HMACs with this source's).
            normal = f"sha256({_lit(self.namespace + ':')} || lower({text}))"
            other = f"'!' || {text}"
        return f"(CASE WHEN regexp_full_match({text}, {pattern}) THEN {normal} ELSE {other} END)"

    def _time(self, col: str, text: str, typed: bool) -> str:
        """A naive timestamp in the profile's zone (and format) as China Standard Time."""
        text = f"NULLIF({text}, '')"
        if typed:
            # The reader parsed an ISO time ('YYYY-MM-DD HH:MM:SS', as without a profile: any
            # other form fails it, and the exact path takes the file); a time in the profile's
            # format is parsed here, where a bad value is an error, with the same effect.
            parsed = f"strptime({text}, {_lit(self.time_format)})" if self.time_format else col
            return self._to_feed_zone(parsed)
        if self.time_format:
            # Not in the declared format: marked, so that validation never reads it as a time
            # in China Standard Time.
            parsed = f"try_strptime({text}, {_lit(self.time_format)})"
            other = f"{_lit('[not ' + self.time_format + '] ')} || {text}"
        else:
            other = text  # one with an offset: validation converts it
            parsed = (f"CASE WHEN regexp_full_match({text}, {_lit(_NAIVE)}) "
                      f"THEN TRY_CAST({text} AS TIMESTAMP) END")
        return (f"coalesce(strftime({self._to_feed_zone(parsed)}, {_lit(TIMESTAMP_TEXT)}), "
                f"{other})")

    def _to_feed_zone(self, ts: str) -> str:
        if self.timezone == FEED_ZONE:
            return ts
        shift = _fixed_shift(self.timezone)
        if shift is not None:  # a zone without daylight saving: ten times as fast as ICU's
            return f"({ts} + to_seconds({shift}))"
        return f"timezone({_lit(FEED_ZONE)}, timezone({_lit(self.timezone)}, {ts}))"


def _fixed_shift(zone: str) -> int | None:
    """Seconds to add to a time in ``zone`` to get China Standard Time, when the zone's offset
    is the same throughout 1990-2100 (UTC, Etc/GMT-3, Asia/Tokyo); None otherwise."""
    tz = ZoneInfo(zone)
    offsets = {datetime(y, m, 15, tzinfo=tz).utcoffset() for y in range(1990, 2101)
               for m in (1, 4, 7, 10)}
    if len(offsets) != 1:
        return None
    offset = offsets.pop()
    return None if offset is None else 8 * 3600 - int(offset.total_seconds())


@dataclass(frozen=True)
class Profile:
    """A whole profile file: one ``FeedProfile`` per feed."""

    name: str
    origin: str
    feeds: dict[str, FeedProfile]

    def for_feed(self, feed: Feed) -> FeedProfile:
        """The profile of one feed."""
        return self.feeds[feed.name]


def load_profile(path: Path) -> Profile:
    """Read and check a profile file; InvalidInput names the file, line and key of a mistake."""
    try:
        text = path.read_text("utf-8")
    except OSError as e:
        raise InvalidInput(f"{path}: cannot read the feed profile ({e.strerror})") from None
    return parse_profile(text, str(path), default_name=path.stem)


def parse_profile(text: str, origin: str, *, default_name: str = "profile") -> Profile:
    """A profile from its TOML text (``origin`` names it in messages)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidInput(f"{origin}: not valid TOML ({e}); fix the profile") from None

    def fail(keys: Sequence[str], why: str) -> InvalidInput:
        line = _line_of(text, keys)
        at = f", line {line}" if line else ""
        return InvalidInput(f"{origin}{at}: `{'.'.join(keys)}`: {why}")

    for k in doc:
        if k not in _TOP_KEYS:
            raise fail([k], "unknown key; a profile holds name, hash_namespace, timezone, "
                            "time_format and one table per feed: " + ", ".join(FEEDS))
    name = _text(doc, ["name"], fail) or default_name
    namespace = _text(doc, ["hash_namespace"], fail) or name
    zone = _zone(doc, ["timezone"], fail) or FEED_ZONE
    fmt = _format(doc, ["time_format"], fail)
    feeds = {}
    for fname, spec in FEEDS.items():
        part = doc.get(fname, {})
        if not isinstance(part, dict):
            raise fail([fname], "must be a table")
        feeds[fname] = _feed_profile(spec, part, fail, origin=origin, namespace=namespace,
                                     zone=zone, fmt=fmt)
    return Profile(name, origin, feeds)


def _feed_profile(spec: Feed, part: dict[str, Any], fail: Any, *, origin: str, namespace: str,
                  zone: str, fmt: str | None) -> FeedProfile:
    f = spec.name
    for k in part:
        if k not in _FEED_KEYS:
            raise fail([f, k], f"unknown key; a feed's table holds {', '.join(sorted(_FEED_KEYS))}")
    names = set(spec.column_names)

    def table(key: str) -> dict[str, Any]:
        t = part.get(key, {})
        if not isinstance(t, dict):
            raise fail([f, key], "must be a table")
        for col in t:
            if col not in names:
                raise fail([f, key, col], f"no such column in feed {f!r}; its columns are "
                                          + ", ".join(spec.column_names))
        return t

    renames = {k: _string(v, [f, "columns", k], fail) for k, v in table("columns").items()}
    theirs = list(renames.values())
    for k, v in renames.items():
        if theirs.count(v) > 1:
            raise fail([f, "columns", k], f"export column {v!r} is named for two feed columns")
    values: dict[str, dict[str, str]] = {}
    for col, mapping in table("values").items():
        c = spec.column(col)
        if not isinstance(mapping, dict):
            raise fail([f, "values", col], "must be a table of export value = feed value")
        values[col] = {}
        for k, v in mapping.items():
            v = _string(v, [f, "values", col, k], fail)
            if c.check == Check.ENUM and v not in c.values:
                raise fail([f, "values", col, k],
                           f"{v!r} is not one of {', '.join(c.values)}")
            values[col][k] = v
    fallback = {}
    for col, v in table("fallback").items():
        c = spec.column(col)
        v = _string(v, [f, "fallback", col], fail)
        if c.check != Check.ENUM or v not in c.values:
            raise fail([f, "fallback", col], "a fallback is for an enum column and must be one "
                       "of its values" + (f": {', '.join(c.values)}" if c.values else ""))
        fallback[col] = v
    hashes = {}
    for col, v in table("hashes").items():
        v = _string(v, [f, "hashes", col], fail)
        if spec.column(col).check != Check.HASH:
            raise fail([f, "hashes", col], "not an identity hash column")
        if v not in HASH_FORMATS:
            raise fail([f, "hashes", col], f"unknown hash format {v!r}; use one of "
                                           + ", ".join(HASH_FORMATS))
        hashes[col] = v
    defaults = {}
    for k, v in table("defaults").items():
        if not isinstance(v, str):
            raise fail([f, "defaults", k], f"must be text ('' for empty; got {v!r})")
        if v == "" and spec.column(k).required:
            raise fail([f, "defaults", k], "a required column needs a value, not ''")
        defaults[k] = v
    return FeedProfile(
        spec, origin, namespace, renames, values, fallback, hashes, defaults,
        _zone(part, [f, "timezone"], fail) or zone,
        _format(part, [f, "time_format"], fail) or fmt,
    )


def _string(v: Any, keys: list[str], fail: Any) -> str:
    if not isinstance(v, str) or not v:
        raise fail(keys, f"must be non-empty text (got {v!r})")
    return v


def _text(doc: dict[str, Any], keys: list[str], fail: Any) -> str | None:
    v = doc.get(keys[-1])
    return None if v is None else _string(v, keys, fail)


def _zone(doc: dict[str, Any], keys: list[str], fail: Any) -> str | None:
    v = _text(doc, keys, fail)
    if v is None:
        return None
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail(keys, f"unknown time zone {v!r}; give an IANA name such as UTC, "
                         "Asia/Shanghai or Europe/Berlin") from None
    return v


def _format(doc: dict[str, Any], keys: list[str], fail: Any) -> str | None:
    v = _text(doc, keys, fail)
    if v is not None and "%" not in v:
        raise fail(keys, f"{v!r} is not a strptime format (such as '%Y/%m/%d %H:%M:%S')")
    return v


def _line_of(text: str, path: Sequence[str]) -> int | None:
    """The line of ``text`` that sets ``path`` (in a [table] or as a dotted key), if found."""
    table: tuple[str, ...] = ()
    want = tuple(path)
    best = None
    for n, line in enumerate(text.splitlines(), start=1):
        head = re.match(r"\s*\[+\s*([^\]]+?)\s*\]+", line)
        if head:
            table = tuple(p.strip().strip("\"'") for p in head.group(1).split("."))
            if table == want:
                return n
            if best is None and want[:len(table)] == table:
                best = n
            continue
        key = re.match(r"""\s*("[^"]*"|'[^']*'|[^=\s]+)\s*=""", line)
        if key:
            full = (*table, key.group(1).strip("\"'"))
            if full == want:
                return n
    return best
