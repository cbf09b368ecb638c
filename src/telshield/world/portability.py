"""Mobile number portability (携号转网): numbers served by another carrier than the one their
segment is allocated to, and the ``ported`` feed that lists them.

A share of the people on other networks (``[portability] ported_share``) — other carriers'
subscribers in Jiangsu and elsewhere, other provinces' China Mobile subscribers, other networks'
couriers and sales lines and off-network fraud callers — have ported: their serving carrier
(``Nodes.operator``, which routes and everything else follow) stays as it was, but their number
comes from a segment of another carrier of the same home (the same Jiangsu city, or the same
province outside Jiangsu). In Jiangsu that includes numbers ported out of China Mobile: China
Mobile Jiangsu numbers now served by Unicom, Telecom or Broadnet, calling our subscribers over
interconnect. Our own subscribers never port in or out.

The numbers are redrawn after every block of nodes is built, from a random stream of their own,
so that every other draw of the province is the same as without portability.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa

from telshield.reference.schemas import CARRIERS  # indexed like numbering.OPERATORS
from telshield.world import numbering as nb
from telshield.world.nodes import ROLE, Nodes
from telshield.world.population import Province
from telshield.world.tables import digits, pick, table, times

# Mobile number portability has been open nationwide since this day (MIIT).
MNP_START = datetime(2019, 11, 27)
# Off-network people who may have ported: the people on other networks (role normal), their
# couriers and sales lines, and off-network fraud callers. Not handlers (crews call them by
# number) nor spoofed numbers.
PORTABLE_ROLES = ("normal", "offnet_courier", "offnet_sales", "offnet_fraud")


@dataclass
class Ported:
    """The ported numbers of a province: nodes (sorted) and when each port completed."""

    node: np.ndarray  # int64 index into the node table
    at: np.ndarray  # int64 seconds from the window start (negative: before it)


def port(rng: np.random.Generator, p: Province, nodes: Nodes, start: datetime) -> Ported:
    """Port ``ported_share`` of the off-network mobile subscribers: redraw their numbers (in
    place) from another carrier's segments of their home; none when the window starts before
    portability existed."""
    share = p.cfg.portability.ported_share
    seg = p.segments
    eligible = (~nodes.ours & ~nodes.radio & np.isin(nodes.role, [ROLE[r] for r in PORTABLE_ROLES])
                & (nodes.operator >= nb.CM) & (nodes.operator <= nb.CBN)
                & ~((nodes.operator == nb.CM) & nodes.jiangsu))  # China Mobile Jiangsu: ours
    cand = np.flatnonzero(eligible)
    chosen = cand[rng.random(len(cand)) < share]
    lo = int((MNP_START - start).total_seconds())
    if lo >= 0:  # the window starts before portability: nothing ported
        chosen = chosen[:0]
    # Home of each number: its segment's province and Jiangsu city (-1 outside Jiangsu).
    hcode = (nodes.msisdn[chosen] // 10_000) % 10**7
    pos = np.searchsorted(seg.hcode, hcode).clip(0, len(seg.hcode) - 1)
    assert (seg.hcode[pos] == hcode).all(), "an off-network number outside the known segments"
    province, city = seg.province[pos], seg.jiangsu_city[pos].astype(np.int64)
    serving = nodes.operator[chosen].astype(np.int64)
    done = np.zeros(len(chosen), bool)
    for prov, c, op in sorted(set(zip(province.tolist(), city.tolist(), serving.tolist(),
                                      strict=True))):
        m = (province == prov) & (city == c) & (serving == op)
        codes = seg.hcode[(seg.province == prov) & (seg.jiangsu_city == c) & (seg.operator != op)]
        if len(codes) == 0:  # no other carrier's segments there: nobody ports
            continue
        nodes.msisdn[chosen[m]] = p.new_numbers(rng, codes, int(m.sum()))
        done[m] = True
    chosen = chosen[done]
    at = rng.integers(lo, 0, len(chosen)) if len(chosen) else np.zeros(0, np.int64)
    return Ported(node=chosen.astype(np.int64), at=at.astype(np.int64))


def ported_table(start: datetime, ported: Ported, nodes: Nodes) -> pa.Table:
    """The ``ported`` feed: one row per ported number, by number."""
    msisdn = nodes.msisdn[ported.node]
    order = np.argsort(msisdn, kind="stable")
    return table("ported", {
        "msisdn": digits(msisdn[order]),
        "carrier": pick(pa.array(CARRIERS), nodes.operator[ported.node][order].astype(np.int64)),
        "ported_at": times(start, ported.at[order]),
    })
