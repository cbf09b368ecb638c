"""Snapshot inputs on disk: a directory of ``.npy`` columns plus ``meta.json``, written
atomically (a new directory renamed into place), and CSV readers for ``telshield screen build``.

CSV files have a header row: lists ``number,colour[,police_ordered]``; warnings
``number,tier``; protected callees ``number``; risk prefixes ``prefix,outcome,code``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from telshield.domain.errors import InvalidInput, Unavailable
from telshield.screening.numbering import I64, PlanTuple
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
)

_ARRAYS = ("list_numbers", "list_flags", "warned", "warned_tiers", "protected")
_COLOURS = {"white": WHITE, "black": BLACK, "grey": GREY}
_TIERS = {"watch": WATCH, "verify": VERIFY, "suspend": SUSPEND}


def save_input(data: SnapshotInput, directory: Path) -> None:
    """Write a snapshot input to ``directory``, replacing what was there in one rename."""
    tmp = directory.with_name(f".{directory.name}.{os.getpid()}.{time.time_ns()}")
    tmp.mkdir(parents=True)
    for name in _ARRAYS:
        np.save(tmp / f"{name}.npy", getattr(data, name))
    meta = {
        "as_of": data.as_of,
        "version": data.version,
        "list_prefixes": [list(p) for p in data.list_prefixes],
        "risk_prefixes": [
            [r.prefix, r.outcome.value, r.code, r.min_len, r.max_len] for r in data.risk_prefixes
        ],
        "plan": [list(p) for p in data.plan],
        "barred_tacs": [list(t) for t in data.barred_tacs],
        "barred_imeis": list(data.barred_imeis),
    }
    (tmp / "meta.json").write_text(json.dumps(meta))
    old = directory.with_name(f".{directory.name}.old.{time.time_ns()}")
    if directory.exists():
        directory.rename(old)
    tmp.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def load_input(directory: Path) -> SnapshotInput:
    """Read a snapshot input written by ``save_input``; Unavailable when there is none."""
    meta_path = directory / "meta.json"
    if not meta_path.exists():
        raise Unavailable(
            f"no screening snapshot at {directory}: run `telshield screen build` first"
        )
    meta = json.loads(meta_path.read_text())
    arrays = {name: np.load(directory / f"{name}.npy") for name in _ARRAYS}
    return SnapshotInput(
        **arrays,
        list_prefixes=tuple(
            (str(p), int(lo), int(hi), int(f)) for p, lo, hi, f in meta["list_prefixes"]
        ),
        risk_prefixes=tuple(
            RiskPrefix(p, Outcome(o), c, lo, hi) for p, o, c, lo, hi in meta["risk_prefixes"]
        ),
        plan=tuple((str(p), int(n), int(k), int(o)) for p, n, k, o in meta.get("plan", [])),
        barred_tacs=tuple((str(t), str(k)) for t, k in meta.get("barred_tacs", [])),
        barred_imeis=tuple(str(i) for i in meta.get("barred_imeis", [])),
        as_of=float(meta["as_of"]),
        version=str(meta["version"]),
    )


def input_mtime(directory: Path) -> float:
    """When the snapshot input was last replaced (0 when there is none)."""
    try:
        return (directory / "meta.json").stat().st_mtime
    except FileNotFoundError:
        return 0.0


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


def input_from_csv(
    *,
    lists: Path | None = None,
    warnings: Path | None = None,
    protected: Path | None = None,
    risk_prefixes: Path | None = None,
    devices: Path | None = None,
    plan: tuple[PlanTuple, ...] = (),
    version: str = "",
) -> SnapshotInput:
    """A snapshot input from CSV files (any may be omitted); as of now."""
    data = SnapshotInput(plan=plan, as_of=time.time(),
                         version=version or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    if lists is not None:
        t = _read(lists, ["number", "colour"])
        flags = _codes(t, "colour", _COLOURS, lists)
        full = pacsv.read_csv(lists, convert_options=pacsv.ConvertOptions(
            column_types={"number": pa.string()}))
        if "police_ordered" in full.column_names:
            police = np.asarray(
                pc.is_in(pc.utf8_lower(pc.cast(full["police_ordered"], pa.string())),
                         pa.array(["true", "1", "yes"])).to_numpy(zero_copy_only=False)
            )
            flags = np.where(police & (flags == BLACK), POLICE, flags).astype(np.uint8)
        data = replace(data, list_numbers=_numbers(t, "number", lists), list_flags=flags)
    if warnings is not None:
        t = _read(warnings, ["number", "tier"])
        data = replace(data, warned=_numbers(t, "number", warnings),
                       warned_tiers=_codes(t, "tier", _TIERS, warnings))
    if protected is not None:
        data = replace(data, protected=_numbers(_read(protected, ["number"]), "number", protected))
    rules: list[RiskPrefix] = []
    if risk_prefixes is not None:
        t = _read(risk_prefixes, ["prefix", "outcome", "code"])
        for p, o, c in zip(*(t[n].to_pylist() for n in ("prefix", "outcome", "code")), strict=True):
            try:
                rules.append(RiskPrefix(str(p).lstrip("+"), Outcome(o), str(c)))
            except ValueError:
                raise InvalidInput(f"{risk_prefixes}: outcome {o!r} is not one of "
                                   f"{[x.value for x in Outcome]}") from None
    imeis: list[str] = []
    if devices is not None:
        values = pc.utf8_trim_whitespace(
            pc.cast(_read(devices, ["imei"])["imei"], pa.string())).to_pylist()
        for line, v in enumerate(values, start=2):
            if not (v and v.isdigit() and 14 <= len(v) <= 16):
                raise InvalidInput(f"{devices}: line {line}: imei {v!r} is not 14-16 digits")
        imeis = sorted(set(values))
    return replace(data, risk_prefixes=tuple(rules), barred_imeis=tuple(imeis))
