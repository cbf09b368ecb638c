"""A den for the police and other tools: JSON (the case), CSV (its numbers), or a report in
plain text or HTML (place, evidence, numbers over time)."""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from telshield.domain.dens import Den, den_ref
from telshield.domain.errors import InvalidInput

FORMATS = ("json", "csv", "text", "html")


def as_dict(d: Den) -> dict[str, Any]:
    """The den as plain data."""
    return {
        "ref": den_ref(int(d.id or 0)), "kind": d.kind, "status": d.status,
        "confidence": d.confidence, "county": d.county,
        "location": {"lat": d.lat, "lon": d.lon, "radius_km": d.radius_km},
        "cells": list(d.cells), "imeis": list(d.imeis),
        "first_seen": d.first_seen.isoformat(), "last_seen": d.last_seen.isoformat(),
        "evidence": d.evidence,
        "members": [{"msisdn": m.msisdn, "role": m.role, "imei": m.imei, "cell": m.cell,
                     "first_at": m.first_at.isoformat(), "last_at": m.last_at.isoformat(),
                     "calls": m.calls} for m in d.members],
    }


def _text(d: Den) -> str:
    a = as_dict(d)
    sig = ", ".join(f"{k} {v}" for k, v in d.evidence.get("signals", {}).items())
    lines = [f"GOIP den report {a['ref']} ({d.kind}), confidence {d.confidence:.2f}",
             f"Location: {d.county}, {d.lat:.5f} N {d.lon:.5f} E, within {d.radius_km:.2f} km",
             f"Cells: {', '.join(d.cells)}",
             f"Active: {d.first_seen:%Y-%m-%d %H:%M} to {d.last_seen:%Y-%m-%d %H:%M} (CST)",
             f"Ports calling at once: {d.evidence.get('ports_parallel', '?')}; "
             f"SIMs: {d.evidence.get('sims', '?')}; relay phones: {d.evidence.get('relays', 0)}",
             f"Evidence: {sig}", f"IMEIs: {', '.join(d.imeis) or 'none'}", "",
             "Numbers (first call .. last call, calls, IMEI, cell, role):"]
    lines += [f"  {m.msisdn}  {m.first_at:%m-%d %H:%M} .. {m.last_at:%m-%d %H:%M}  "
              f"{m.calls:>5}  {m.imei or '-'}  {m.cell}  {m.role}" for m in d.members]
    return "\n".join(lines) + "\n"


def _html(d: Den) -> str:
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            m.msisdn, m.role, m.imei, m.cell, f"{m.first_at:%Y-%m-%d %H:%M}",
            f"{m.last_at:%Y-%m-%d %H:%M}", m.calls)) + "</tr>" for m in d.members)
    head = "".join(f"<p>{html.escape(x)}</p>" for x in _text(d).split("\n")[1:7])
    title = html.escape(f"GOIP den report {den_ref(int(d.id or 0))}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>{title}</h1>{head}<table border='1'><tr><th>number</th><th>role</th>"
            "<th>IMEI</th><th>cell</th><th>first call</th><th>last call</th><th>calls</th></tr>"
            f"{rows}</table></body></html>\n")


def export(d: Den, fmt: str) -> str:
    """The den in ``fmt`` (json, csv, text or html)."""
    if fmt == "json":
        return json.dumps(as_dict(d), ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["den", "msisdn", "role", "imei", "cell", "first_at", "last_at", "calls"])
        for m in d.members:
            w.writerow([den_ref(int(d.id or 0)), m.msisdn, m.role, m.imei, m.cell,
                        m.first_at.isoformat(), m.last_at.isoformat(), m.calls])
        return buf.getvalue()
    if fmt == "text":
        return _text(d)
    if fmt == "html":
        return _html(d)
    raise InvalidInput(f"--format {fmt!r}: give one of {', '.join(FORMATS)}")
