"""Ground truth tables: roles of numbers, dens, gangs (fraud calls are written day by day)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from telshield.world import numbering as nb
from telshield.world.config import ReverifySection
from telshield.world.devices import id_hashes
from telshield.world.geography import CITIES, Cells, Counties
from telshield.world.nodes import FRAUD_ROLES, ROLE, ROLES, SCENARIOS, Nodes
from telshield.world.tables import TRUTH_SCHEMAS, digits, pick, table, times

DAY = 86_400
NEVER = np.iinfo(np.int64).max


def den_id(k: int) -> str:
    """The identifier of den ``k``."""
    return f"DEN-{k + 1:04d}"


def gang_id(k: int) -> str:
    """The identifier of gang ``k``."""
    return f"GANG-{k + 1:04d}"


def reverification(rng: np.random.Generator, cfg: ReverifySection, nodes: Nodes,
                   holder: np.ndarray) -> np.ndarray:
    """Hours after which the owner of each number of ours would complete a real-name
    re-verification if sent one; NaN = never (fraud numbers never do), or not ours.

    ``holder`` is each node's registered holder kind (None when not ours).
    """
    n = len(nodes)
    share = np.select([holder == "individual", holder == "enterprise", holder == "iot"],
                      [cfg.individual_share, cfg.enterprise_share, cfg.iot_share], 0.0)
    fraud = np.isin(nodes.role, [ROLE[r] for r in FRAUD_ROLES])
    yes = (rng.random(n) < share) & nodes.ours & ~fraud
    hours = cfg.delay_hours_median * np.exp(rng.normal(0, cfg.delay_hours_sigma, n))
    return np.where(yes, np.round(np.clip(hours, 0.1, 24 * 30), 1), np.nan)


def numbers_table(start: datetime, days: int, nodes: Nodes, first_fraud: np.ndarray,
                  first_victim: np.ndarray, reverify_h: np.ndarray | None = None) -> pa.Table:
    """One row per number in the simulation (first one wins if two ever share digits)."""
    _, first = np.unique(nodes.msisdn, return_index=True)
    idx = np.sort(first)
    rv = np.full(len(nodes), np.nan) if reverify_h is None else reverify_h
    rv, ours = rv[idx], nodes.ours[idx]
    op_names = np.array([*nb.OPERATORS, "", "", "", "", "", "foreign"], dtype=object)
    op = nodes.operator[idx].astype(np.int64)
    homes = np.array([*CITIES, "other province", "abroad"], dtype=object)
    active = nodes.first_day[idx] < nodes.last_day[idx]
    ff, fv = first_fraud[idx], first_victim[idx]
    den, gang = nodes.den[idx], nodes.gang[idx]
    return table("numbers", {
        "msisdn": digits(nodes.msisdn[idx]),
        "role": pick(pa.array(ROLES), nodes.role[idx].astype(np.int64)),
        "scenario": pick(pa.array(SCENARIOS), nodes.scenario[idx].astype(np.int64)),
        "ours": nodes.ours[idx],
        "operator": pick(pa.array(op_names.tolist()), np.where(op < 0, -1, op)),
        "home": pick(pa.array(homes.tolist()), nodes.city[idx].astype(np.int64)),
        "den_id": [den_id(int(d)) if d >= 0 else None for d in den],
        "gang_id": [gang_id(int(g)) if g >= 0 else None for g in gang],
        "active_from": times(start, nodes.first_day[idx].astype(np.int64) * DAY, ~active),
        "active_to": times(start, nodes.last_day[idx].astype(np.int64) * DAY, ~active),
        "first_fraud_call_at": times(start, np.where(ff == NEVER, 0, ff), ff == NEVER),
        "first_victim_call_at": times(start, np.where(fv == NEVER, 0, fv), fv == NEVER),
        "reverifies": pa.array(~np.isnan(rv), mask=~ours),
        "reverify_after_h": pa.array(np.where(np.isnan(rv), 0.0, rv), mask=np.isnan(rv)),
    }, TRUTH_SCHEMAS)


def dens_table(dens: list[dict[str, Any]], nodes: Nodes, cells: Cells, counties: Counties
               ) -> pa.Table:
    """One row per den: kind, cells, place, ports, GOIP TAC and every SIM that sat in it."""
    members: dict[int, list[str]] = {}
    for i in np.flatnonzero(nodes.den >= 0):
        members.setdefault(int(nodes.den[i]), []).append(str(nodes.msisdn[i]))
    rows = {
        "den_id": [den_id(d["den"]) for d in dens],
        "kind": [d["kind"] for d in dens],
        "cell_ids": [sorted({str(cells.cell_id[c]) for c in d["cells"]}) for d in dens],
        "county": [str(counties.name[d["county"]]) for d in dens],
        "city": [CITIES[int(counties.city[d["county"]])] for d in dens],
        "ports": [d["ports"] for d in dens],
        "tac": [None if d["tac"] is None else str(d["tac"]) for d in dens],
        "imeis": [d["imeis"] for d in dens],
        "msisdns": [sorted(members.get(d["den"], [])) for d in dens],
    }
    return table("dens", rows, TRUTH_SCHEMAS)


def gangs_table(gangs: list[dict[str, Any]], nodes: Nodes, key: bytes) -> pa.Table:
    """One row per gang: colluding channels and staff, openers' ID hashes (under ``key``, as the
    feeds carry them), cards, addresses."""
    cards: dict[int, list[str]] = {}
    for i in np.flatnonzero(nodes.gang >= 0):
        cards.setdefault(int(nodes.gang[i]), []).append(str(nodes.msisdn[i]))

    def hashes(labels: list[str]) -> list[str]:
        """The identity hashes of labels, as the feeds carry them."""
        return [str(h) for h in id_hashes(labels, key)]

    rows = {
        "gang_id": [gang_id(g["gang"]) for g in gangs],
        "channel_ids": [g["channel_ids"] for g in gangs],
        "staff_ids": [sorted(set(g["staff_ids"])) for g in gangs],
        "id_hashes": [hashes(g["openers"]) for g in gangs],
        "msisdns": [sorted(cards.get(g["gang"], [])) for g in gangs],
        "address_hashes": [hashes(g["address_labels"]) for g in gangs],
        "device_ids": [g["device_ids"] for g in gangs],
        "contact_msisdns": [g["contact_msisdns"] for g in gangs],
    }
    return table("gangs", rows, TRUTH_SCHEMAS)
