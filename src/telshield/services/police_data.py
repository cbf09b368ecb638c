"""What the lake knows of a number or an ID, gathered for a police query's response: the
subscriber record (identity masked), its registration channel, recent cells and IMEIs, and the
numbers under the same ID. Reads only; the caller audits the read."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import ibis

from telshield.domain.police import mask_id_hash
from telshield.services.lakeread import FeedReader

RECORD = ("msisdn", "holder_kind", "registered_at", "channel_id", "staff_id", "terminal_id",
          "order_id", "status")


def _rows(t: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = t.to_pyarrow().to_pylist()
    return rows


def _text(v: Any) -> str:
    return "" if v is None else v.isoformat(sep=" ") if isinstance(v, datetime) else str(v)


def subscriber_numbers(reader: FeedReader, id_hash: str) -> list[str]:
    """Every number registered under the ID (empty before the subscribers feed arrives)."""
    if not reader.files("subscribers"):
        return []
    s = reader.table("subscribers")
    return sorted({str(r["msisdn"]) for r in _rows(
        s.filter(s.id_hash == id_hash).select("msisdn").distinct())})


def id_of(reader: FeedReader, number: str) -> str:
    """The ID hash the number is registered under ('' if unknown)."""
    if not reader.files("subscribers"):
        return ""
    s = reader.table("subscribers")
    got = _rows(s.filter(s.msisdn == number).order_by(s.registered_at.desc()).limit(1)
                .select("id_hash"))
    return str(got[0]["id_hash"]) if got else ""


def records(reader: FeedReader, numbers: list[str]) -> list[dict[str, str]]:
    """The latest subscriber record of each number, identity masked, without the IMSI."""
    if not numbers or not reader.files("subscribers"):
        return []
    s = reader.table("subscribers")
    t = s.filter(s.msisdn.isin(numbers)).mutate(
        rn=ibis.row_number().over(group_by=s.msisdn, order_by=s.registered_at.desc()))
    out = []
    for r in _rows(t.filter(t.rn == 0)):
        rec = {k: _text(r.get(k)) for k in RECORD}
        rec["id"] = mask_id_hash(str(r.get("id_hash") or ""))
        out.append(rec)
    return sorted(out, key=lambda x: x["msisdn"])


def activity(reader: FeedReader, numbers: list[str], days: int, *, limit: int = 20
             ) -> dict[str, list[dict[str, str]]]:
    """Recent cells and IMEIs the numbers called from (the last ``days`` of the calls feed),
    most calls first: {"cells": [...], "imeis": [...]}."""
    if not numbers or not reader.files("calls"):
        return {"cells": [], "imeis": []}
    c = reader.table("calls")
    latest = c.started_at.max().to_pyarrow().as_py()
    if latest is None:
        return {"cells": [], "imeis": []}
    mine = c.filter(c.caller.isin(numbers) & (c.started_at >= ibis.timestamp(
        latest - timedelta(days=days))))
    out: dict[str, list[dict[str, str]]] = {}
    for key, col in (("cells", "caller_cell"), ("imeis", "caller_imei")):
        f = mine.filter(mine[col].notnull() & (mine[col] != ""))
        g = f.group_by(col).aggregate(calls=f.count(), first=f.started_at.min(),
                                      last=f.started_at.max())
        rows = _rows(g.order_by([ibis.desc("calls"), col]).limit(limit))
        out[key] = [{"value": str(r[col]), "calls": str(r["calls"]), "first": _text(r["first"]),
                     "last": _text(r["last"])} for r in rows]
    return out
