"""A gang case as the police receive it: JSON (the whole case), CSV (one row per card) or
GraphML (the cards and their links, for link-analysis tools such as Gephi or i2)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any, Literal

from telshield.domain.errors import InvalidInput
from telshield.domain.gangs import Gang, gang_ref

Format = Literal["json", "csv", "graphml"]
FORMATS: tuple[str, ...] = ("json", "csv", "graphml")
CSV_COLUMNS = ("gang", "msisdn", "id_hash", "channel_id", "staff_id", "registered_at", "links",
               "flags")


def gang_dict(gang: Gang) -> dict[str, Any]:
    """The case as one JSON-ready object."""
    return {
        "gang": gang_ref(int(gang.id or 0)), "id": gang.id, "status": gang.status,
        "score": gang.score, "found_at": gang.found_at.isoformat(),
        "updated_at": gang.updated_at.isoformat(), "signals": dict(vars(gang.signals)),
        "staff_ids": list(gang.staff_ids), "channels": list(gang.channels),
        "link_counts": gang.link_counts,
        "members": [{"msisdn": m.msisdn, "id_hash": m.id_hash, "channel_id": m.channel_id,
                     "staff_id": m.staff_id, "registered_at": m.registered_at.isoformat(),
                     "links": list(m.links), "flags": list(m.flags)} for m in gang.members],
        "links": [{"a": x.a, "b": x.b, "kinds": list(x.kinds), "weight": x.weight}
                  for x in gang.links],
    }


def export(gang: Gang, fmt: str) -> str:
    """The case in ``fmt`` (json, csv or graphml)."""
    if fmt == "json":
        return json.dumps(gang_dict(gang), ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        ref = gang_ref(int(gang.id or 0))
        for m in gang.members:
            w.writerow([ref, m.msisdn, m.id_hash, m.channel_id, m.staff_id,
                        m.registered_at.isoformat(), "|".join(m.links), "|".join(m.flags)])
        return out.getvalue()
    if fmt == "graphml":
        return _graphml(gang)
    raise InvalidInput(f"export format {fmt!r}; use one of {list(FORMATS)}")


def _graphml(gang: Gang) -> str:
    import igraph as ig

    names = [m.msisdn for m in gang.members]
    index = {n: i for i, n in enumerate(names)}
    links = [x for x in gang.links if x.a in index and x.b in index]
    g = ig.Graph(n=len(names), edges=[(index[x.a], index[x.b]) for x in links])
    g["gang"] = gang_ref(int(gang.id or 0))
    g["score"] = gang.score
    g.vs["name"] = names
    for attr in ("id_hash", "channel_id", "staff_id"):
        g.vs[attr] = [getattr(m, attr) for m in gang.members]
    g.vs["registered_at"] = [m.registered_at.isoformat() for m in gang.members]
    g.vs["flags"] = ["|".join(m.flags) for m in gang.members]
    g.es["kinds"] = ["|".join(x.kinds) for x in links]
    g.es["weight"] = [x.weight for x in links]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "gang.graphml"
        g.write_graphml(str(path))
        return path.read_text(encoding="utf-8")
