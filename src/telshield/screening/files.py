"""CSV readers for ``telshield screen build`` and the device classes of the lake's device_intel
feed (the snapshot on disk is ``screening.publish``'s).

CSV files have a header row: lists either as ``telshield lists export`` writes them
(``kind,value,value_end,colour,source,reason,expires_at,police_ordered``: numbers, prefixes,
ranges and IMEIs, the entry in force per target wins) or as ``number,colour[,police_ordered]``;
warnings ``number,tier``; protected callees ``number``; risk prefixes ``prefix,outcome,code``;
barred devices ``imei``; roaming subscribers ``msisdn`` (or ``number``).
"""

from __future__ import annotations

import csv
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from telshield.domain.clock import store_now
from telshield.domain.errors import InvalidInput, TelshieldError
from telshield.domain.lists import ListEntry
from telshield.screening.numbering import CARRIER_CODE, I64, PlanTuple
from telshield.screening.snapshot import (
    BARRED_DEVICE_KINDS,
    BLACK,
    GREY,
    POLICE,
    SUSPEND,
    U8,
    VERIFY,
    WATCH,
    WHITE,
    Outcome,
    RiskPrefix,
    SnapshotInput,
    input_from_entries,
)

_COLOURS = {"white": WHITE, "black": BLACK, "grey": GREY}
_TIERS = {"watch": WATCH, "verify": VERIFY, "suspend": SUSPEND}


def barred_tacs_from_parquet(files: list[Path]) -> tuple[tuple[str, str], ...]:
    """(TAC, kind) of the barred device kinds (GOIP, SIM bank) in device_intel Parquet files."""
    out: set[tuple[str, str]] = set()
    for f in files:
        t = pq.read_table(f, columns=["tac", "kind"])
        for tac, kind in zip(t["tac"].to_pylist(), t["kind"].to_pylist(), strict=True):
            if kind in BARRED_DEVICE_KINDS and tac:
                out.add((str(tac), str(kind)))
    return tuple(sorted(out))


def _read(path: Path, columns: list[str]) -> pa.Table:
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns}, include_columns=columns
            ),
        )
    except (pa.ArrowInvalid, KeyError) as e:
        raise InvalidInput(f"{path}: {e}; expected a header row with {', '.join(columns)}") from e
    return table


def _numbers(table: pa.Table, column: str, path: Path) -> I64:
    text = pc.utf8_ltrim(table[column], characters="+")
    ok = pc.match_substring_regex(text, r"^[1-9][0-9]{2,14}$")
    if not pc.all(ok).as_py() and len(table):
        bad = pc.filter(table[column], pc.invert(ok))[0].as_py()
        raise InvalidInput(f"{path}: {column} {bad!r} is not 3-15 digits (E.164 without '+')")
    return np.asarray(pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _codes(table: pa.Table, column: str, codes: dict[str, int], path: Path) -> U8:
    values = pc.utf8_lower(pc.utf8_trim_whitespace(table[column])).to_pylist()
    unknown = set(values) - set(codes)
    if unknown:
        raise InvalidInput(f"{path}: unknown {column} {sorted(map(str, unknown))[:5]}; "
                           f"use one of {', '.join(codes)}")
    return np.array([codes[v] for v in values], dtype=np.uint8)


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return [c.strip() for c in next(csv.reader(f), [])]


def lists_from_export(path: Path, *, at: datetime) -> SnapshotInput:
    """The list entries of a file ``telshield lists export`` wrote (numbers, prefixes, ranges,
    IMEIs), in force at ``at`` (naive UTC, as the store keeps time): the effective entry per
    target wins, as in the store."""
    entries: list[ListEntry] = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            line = reader.line_num
            try:
                expires = _expiry(row.get("expires_at") or "", line)
                if expires is not None and expires <= at:
                    continue  # expired when exported or since: not in force
                entries.append(ListEntry.new(
                    row.get("kind") or "", row.get("value") or "", row.get("colour") or "",
                    source=row.get("source") or "manual",
                    reason=row.get("reason") or "listed in an exported list file",
                    actor="screen build", at=at, expires_at=expires,
                    value_end=row.get("value_end") or "",
                    police_ordered=(row.get("police_ordered") or "").strip().lower()
                    in ("1", "true", "yes")))
            except TelshieldError as e:
                raise InvalidInput(f"{path}: line {line}: {e}") from None
    return input_from_entries(entries, at=at)


def _expiry(text: str, line: int) -> datetime | None:
    if not text.strip():
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise InvalidInput(f"expires_at {text!r} is not YYYY-MM-DD HH:MM:SS") from None


def _plain_lists(path: Path) -> tuple[I64, U8]:
    """Numbers and list bits of a ``number,colour[,police_ordered]`` file."""
    t = _read(path, ["number", "colour"])
    flags = _codes(t, "colour", _COLOURS, path)
    full = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={"number": pa.string()}))
    if "police_ordered" in full.column_names:
        police = np.asarray(
            pc.is_in(pc.utf8_lower(pc.cast(full["police_ordered"], pa.string())),
                     pa.array(["true", "1", "yes"])).to_numpy(zero_copy_only=False)
        )
        flags = np.where(police & (flags == BLACK), POLICE, flags).astype(np.uint8)
    return _numbers(t, "number", path), flags


def input_from_csv(
    *,
    lists: Path | None = None,
    warnings: Path | None = None,
    protected: Path | None = None,
    risk_prefixes: Path | None = None,
    devices: Path | None = None,
    roaming: Path | None = None,
    ported: Path | None = None,
    plan: tuple[PlanTuple, ...] = (),
    version: str = "",
) -> SnapshotInput:
    """A snapshot input from CSV files (any may be omitted); as of now."""
    data = SnapshotInput(plan=plan, as_of=time.time(), version=version)
    imeis: set[str] = set()
    if lists is not None:
        if "kind" in _header(lists):  # the export format
            listed = lists_from_export(lists, at=store_now())  # expiries are store time
            data = replace(data, list_numbers=listed.list_numbers, list_flags=listed.list_flags,
                           list_prefixes=listed.list_prefixes)
            imeis |= set(listed.barred_imeis)
        else:
            numbers, flags = _plain_lists(lists)
            data = replace(data, list_numbers=numbers, list_flags=flags)
    if warnings is not None:
        t = _read(warnings, ["number", "tier"])
        data = replace(data, warned=_numbers(t, "number", warnings),
                       warned_tiers=_codes(t, "tier", _TIERS, warnings))
    if protected is not None:
        data = replace(data, protected=_numbers(_read(protected, ["number"]), "number", protected))
    if roaming is not None:
        column = "msisdn" if "msisdn" in _header(roaming) else "number"
        data = replace(data, roaming=_numbers(_read(roaming, [column]), column, roaming))
    if ported is not None:  # the ported feed's shape: msisdn, carrier[, ported_at]
        t = _read(ported, ["msisdn", "carrier"])
        data = replace(data, ported=_numbers(t, "msisdn", ported),
                       ported_carriers=_codes(t, "carrier", CARRIER_CODE, ported))
    rules: list[RiskPrefix] = []
    if risk_prefixes is not None:
        t = _read(risk_prefixes, ["prefix", "outcome", "code"])
        for p, o, c in zip(*(t[n].to_pylist() for n in ("prefix", "outcome", "code")), strict=True):
            try:
                rules.append(RiskPrefix(str(p).lstrip("+"), Outcome(o), str(c)))
            except ValueError:
                raise InvalidInput(f"{risk_prefixes}: outcome {o!r} is not one of "
                                   f"{[x.value for x in Outcome]}") from None
    if devices is not None:
        values = pc.utf8_trim_whitespace(
            pc.cast(_read(devices, ["imei"])["imei"], pa.string())).to_pylist()
        for line, v in enumerate(values, start=2):
            if not (v and v.isdigit() and 14 <= len(v) <= 16):
                raise InvalidInput(f"{devices}: line {line}: imei {v!r} is not 14-16 digits")
        imeis |= set(values)
    return replace(data, risk_prefixes=tuple(rules), barred_imeis=tuple(sorted(imeis)))
