"""Grouping den ports into dens, in plain Python over the few rows ``detect.dens`` returns.

A den sits still and dials on: its ports call from one or two cells, at least
``min_calls_per_hour`` calls in each hour they call in (den profile; a slower one-way caller is an
honest line that happens to sit on a den's cells, and is left out before grouping). A SIM whose two
busiest cells carry ``STATIC_SHARE`` of its calls is *static*; cells are joined when one static SIM
calls from both and they are neighbours (within ``NEIGHBOUR_KM``, or the farther one's site is
among the ``NEIGHBOUR_RANK`` nearest sites of the other: where cells are sparse, neighbours are
farther apart), and a group is every static port on a set of joined cells, split by device: ports
on a den device's TAC (``device_intel``) form one group per TAC and run of IMEI serials (two GOIPs
on the same cells are two dens), the other ports (phones, forged TACs) one more. Each group is then
scored (``domain.dens.confidence``) on its device kind, IMEI continuity across SIM swaps, how many
ports call in the same hour, SIM turnover and call length; its evidence says how young its oldest
SIM of ours is, how fast its slowest port calls and how many slow callers on its cells were left
out. Location: the centroid of its cells weighted by calls, the county of its busiest cell, and a
radius reaching its farthest cell.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import pairwise
from statistics import median
from typing import Any

from telshield.domain.dens import RELAY, DenMember, DenProfile, confidence

STATIC_SHARE = 0.9
NEIGHBOUR_KM = 3.0  # two cells of one den are neighbours
MIN_RADIUS_KM = 0.3  # a cell's own reach: a den on one cell is somewhere under it
NEIGHBOUR_RANK = 6  # a site among another's six nearest sites neighbours it (a hexagonal ring)
SERIAL_GAP = 1000  # IMEI serials of one device's ports lie closer together than this


@dataclass(frozen=True)
class Cell:
    """Where a cell is (the cells feed)."""

    lat: float
    lon: float
    county: str


@dataclass(frozen=True)
class Found:
    """A group that scored as a den, before it is stored."""

    kind: str
    confidence: float
    cells: tuple[str, ...]
    county: str
    lat: float
    lon: float
    radius_km: float
    members: tuple[DenMember, ...]
    first_seen: datetime
    last_seen: datetime
    evidence: dict[str, Any]


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two (lat, lon) points."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = (math.sin((la2 - la1) / 2) ** 2
         + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


class _Union:
    def __init__(self) -> None:
        self.up: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.up.setdefault(x, x)
        while self.up[x] != x:
            self.up[x] = self.up[self.up[x]]
            x = self.up[x]
        return x

    def join(self, a: str, b: str) -> None:
        self.up[self.find(a)] = self.find(b)


def static_ports(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The rows (one per cell) of each static SIM, busiest cell first, top two cells only."""
    by: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        by[str(r["msisdn"])].append(r)
    out = {}
    for m, rs in by.items():
        rs.sort(key=lambda r: -int(r["calls"]))
        total = sum(int(r["calls"]) for r in rs)
        top = rs[:2]
        if sum(int(r["calls"]) for r in top) >= STATIC_SHARE * total:
            out[m] = top
    return out


class Near:
    """Whether two cells neighbour each other: within ``NEIGHBOUR_KM``, or one's site is among
    the ``NEIGHBOUR_RANK`` nearest other sites of the other (cell density varies: rural sites
    stand kilometres apart). Cells missing from the cells feed neighbour nothing."""

    def __init__(self, cells: Mapping[str, Cell]) -> None:
        self.cells = cells
        self.sites = sorted({(c.lat, c.lon) for c in cells.values()})
        self.lats = [s[0] for s in self.sites]
        self.memo: dict[tuple[str, str], bool] = {}

    def _closer(self, a: tuple[float, float], d: float) -> int:
        """Other sites strictly closer to ``a`` than ``d`` km."""
        span = d / 111.0 + 1e-9  # a degree of latitude is about 111 km
        lo, hi = bisect_left(self.lats, a[0] - span), bisect_right(self.lats, a[0] + span)
        return sum(1 for s in self.sites[lo:hi] if s != a and km(a, s) < d)

    def __call__(self, a: str, b: str) -> bool:
        if a == b:
            return True
        if a not in self.cells or b not in self.cells:
            return False
        key = (a, b) if a < b else (b, a)
        if key not in self.memo:
            pa = (self.cells[a].lat, self.cells[a].lon)
            pb = (self.cells[b].lat, self.cells[b].lon)
            d = km(pa, pb)
            self.memo[key] = d <= NEIGHBOUR_KM or min(
                self._closer(pa, d), self._closer(pb, d)) < NEIGHBOUR_RANK
        return self.memo[key]


def calls_per_hour(rows: Iterable[Mapping[str, Any]],
                   hours: Mapping[str, set[int]]) -> dict[str, float]:
    """Each SIM's calls (over all its rows) per hour it called in; a SIM with no hours known
    is left out (its pace is unknown)."""
    calls: Counter[str] = Counter()
    for r in rows:
        calls[str(r["msisdn"])] += int(r["calls"])
    return {m: n / len(hours[m]) for m, n in calls.items() if hours.get(m)}


def device_key(row: Mapping[str, Any], profile: DenProfile) -> str:
    """The device family a port's head row belongs to: its TAC when ``device_intel`` lists the
    TAC as a den device kind, else ``other`` (phones, forged or unknown TACs)."""
    imei = str(row["imei"] or "")
    if row["kind"] in profile.device_kinds and len(imei) >= 14:
        return imei[:8]
    return "other"


def split_by_device(sims: Sequence[str], head: Mapping[str, Mapping[str, Any]],
                    profile: DenProfile) -> list[list[str]]:
    """The ports of one cell group split into devices: per den-device TAC, runs of IMEI serials
    no more than ``SERIAL_GAP`` apart (one device's ports); all other ports together."""
    fam: dict[str, list[str]] = defaultdict(list)
    for m in sims:
        fam[device_key(head[m], profile)].append(m)
    out = []
    for key, ms in sorted(fam.items()):
        if key == "other":
            out.append(sorted(ms))
            continue
        ms.sort(key=lambda m: int(str(head[m]["imei"])[8:14]))
        run = [ms[0]]
        for prev, m in pairwise(ms):
            if int(str(head[m]["imei"])[8:14]) - int(str(head[prev]["imei"])[8:14]) > SERIAL_GAP:
                out.append(sorted(run))
                run = []
            run.append(m)
        out.append(sorted(run))
    return out


def group(rows: Iterable[Mapping[str, Any]], hours: Mapping[str, set[int]],
          relays: Iterable[Mapping[str, Any]], cells: Mapping[str, Cell],
          profile: DenProfile) -> list[Found]:
    """The dens among one-way callers' rows (``detect.dens.ports``), with the hours each called
    in and the relay phones on our cells."""
    rows = list(rows)
    ports = static_ports(rows)
    pace = calls_per_hour(rows, hours)
    slow = {m for m in ports if pace.get(m, math.inf) < profile.min_calls_per_hour}
    slow_at = Counter(str(ports[m][0]["cell"]) for m in slow)
    ports = {m: rs for m, rs in ports.items() if m not in slow}
    near = Near(cells)
    u = _Union()
    for rs in ports.values():
        a = str(rs[0]["cell"])
        u.find(a)
        for r in rs[1:]:
            b = str(r["cell"])
            # Only neighbouring cells join: a SIM that moves between far cells is no port.
            if near(a, b):
                u.join(b, a)
    groups: dict[str, list[str]] = defaultdict(list)
    for m, rs in ports.items():
        groups[u.find(str(rs[0]["cell"]))].append(m)
    relay_at: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in relays:
        relay_at[str(r["cell"])].append(r)
    found = []
    for cell_group in groups.values():
        head = {m: ports[m][0] for m in cell_group}
        for sims in split_by_device(cell_group, head, profile):
            # Relay phones are ordinary phones beside ordinary phones: a den device has none.
            phones = device_key(head[sims[0]], profile) == "other"
            at = {str(ports[m][0]["cell"]) for m in sims}
            relaying = {str(r["msisdn"]) for c in at for r in relay_at.get(c, [])} if phones \
                else set()
            if len(sims) + len(relaying) < profile.min_sims:
                continue
            f = _score(sims, ports, hours, relay_at if phones else {}, cells, profile, near)
            if f is not None:
                found.append(_rules(f, sims, ports, pace, slow_at, profile))
    return sorted(found, key=lambda f: -f.confidence)


def _rules(f: Found, sims: Sequence[str], ports: Mapping[str, list[Mapping[str, Any]]],
           pace: Mapping[str, float], slow_at: Mapping[str, int], p: DenProfile) -> Found:
    """The den with the profile's member rules in its evidence: its oldest SIM of ours (days
    since registration; none when no SIM is ours), its slowest port's calls per hour, and the
    slow one-way callers left out on its cells."""
    ages = [float(r["sim_age_days"]) for m in sims for r in ports[m][:1]
            if r.get("sim_age_days") is not None]
    rates = [pace[m] for m in sims if m in pace]
    return replace(f, evidence={**f.evidence, "member_rules": {
        "max_sim_age_days": p.max_sim_age_days, "oldest_sim_age_days":
        round(max(ages), 1) if ages else None,
        "min_calls_per_hour": p.min_calls_per_hour, "slowest_calls_per_hour":
        round(min(rates), 2) if rates else None,
        "slow_callers_left_out": sum(slow_at.get(c, 0) for c in f.cells)}})


def _parallel(sims: Sequence[str], hours: Mapping[str, set[int]]) -> int:
    per = Counter(h for m in sims for h in hours.get(m, set()))
    return max(per.values(), default=0)


def _score(sims: Sequence[str], ports: Mapping[str, list[Mapping[str, Any]]],
           hours: Mapping[str, set[int]], relay_at: Mapping[str, list[Mapping[str, Any]]],
           cells: Mapping[str, Cell], p: DenProfile, near: Near) -> Found | None:
    head = {m: ports[m][0] for m in sims}
    imeis = Counter(str(r["imei"]) for r in head.values() if r["imei"])
    blocks = Counter(str(r["imei"])[:12] for r in head.values() if r["imei"])
    parallel = _parallel(sims, hours)
    if parallel < p.min_parallel:
        return None
    spans = [(max(r["last_at"] for r in ports[m]) - min(r["first_at"] for r in ports[m]))
             .total_seconds() / 86_400 for m in sims]
    signals = {
        "device": sum(1 for r in head.values() if r["kind"] in p.device_kinds) / len(sims),
        "continuity": sum(1 for r in head.values() if r["imei"] and (
            imeis[str(r["imei"])] > 1 or blocks[str(r["imei"])[:12]] > 1)) / len(sims),
        "parallel": min(1.0, parallel / max(p.full_parallel, 1)),
        "swapped": sum(1 for s in spans if s <= p.swap_days) / len(sims),
        "short": 1.0 if median(float(r["median_s"]) for r in head.values())
        <= p.max_median_duration_s else 0.0,
    }
    if any(relay_at.get(str(r["cell"])) for r in head.values()):
        signals["relay"] = 1.0  # positive-only: a GOIP has no relay phone
        if signals["device"] == 0.0:
            # The audio-cable form is built of ordinary phones: no den device is expected of it.
            del signals["device"]
    conf = confidence(signals, p.weights)
    if conf < p.threshold:
        return None
    members = [DenMember(msisdn=m, imei=str(r["imei"] or ""), cell=str(r["cell"]),
                         first_at=min(x["first_at"] for x in ports[m]),
                         last_at=max(x["last_at"] for x in ports[m]),
                         calls=sum(int(x["calls"]) for x in ports[m])) for m, r in head.items()]
    weight: Counter[str] = Counter()
    for m in sims:
        for r in ports[m]:
            weight[str(r["cell"])] += int(r["calls"]) if r is ports[m][0] or near(
                str(r["cell"]), str(ports[m][0]["cell"])) else 0
    relays: dict[str, DenMember] = {}
    for c in weight:
        for r in relay_at.get(c, []):
            m = str(r["msisdn"])
            if m not in head and (m not in relays or relays[m].calls < int(r["calls"])):
                relays[m] = DenMember(msisdn=m, imei="", cell=c, first_at=r["first_at"],
                                      last_at=r["last_at"], calls=int(r["calls"]), role=RELAY)
    members += relays.values()
    return _place(members, weight, cells, signals, parallel, conf)


def _place(members: list[DenMember], weight: Counter[str], cells: Mapping[str, Cell],
           signals: dict[str, float], parallel: int, conf: float) -> Found:
    known = {c: w for c, w in weight.items() if c in cells}
    busiest = max(known, key=lambda c: known[c]) if known else ""
    # The centre: the calls-weighted centroid of the cells within NEIGHBOUR_KM of the busiest
    # (serving) cell. A farther neighbour carrying some calls widens the radius; pulling the
    # centre halfway towards a site kilometres off would put it under neither cell.
    if busiest:
        b = (cells[busiest].lat, cells[busiest].lon)
        core = {c: w for c, w in known.items()
                if km(b, (cells[c].lat, cells[c].lon)) <= NEIGHBOUR_KM}
    else:
        core = {}
    total = sum(core.values()) or 1
    lat = sum(cells[c].lat * w for c, w in core.items()) / total if core else 0.0
    lon = sum(cells[c].lon * w for c, w in core.items()) / total if core else 0.0
    radius = max([km((lat, lon), (cells[c].lat, cells[c].lon)) for c in known] + [0.0])
    relays = [m for m in members if m.role == RELAY]
    return Found(
        kind="audio_cable" if relays else "goip", confidence=conf,
        cells=tuple(sorted(weight)), county=cells[busiest].county if busiest else "",
        lat=round(lat, 6), lon=round(lon, 6), radius_km=round(max(radius, MIN_RADIUS_KM), 3),
        members=tuple(sorted(members, key=lambda m: (m.first_at, m.msisdn))),
        first_seen=min(m.first_at for m in members), last_seen=max(m.last_at for m in members),
        evidence={"signals": {k: round(v, 3) for k, v in signals.items()},
                  "ports_parallel": parallel, "sims": len(members) - len(relays),
                  "relays": len(relays), "calls_by_cell": dict(weight)})
