"""Feeds that are not call traffic: cells, subscribers, orders, sanctions, device intel, clues."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from telshield.world.devices import (
    DESKPHONE_MODELS,
    GOIP_MODELS,
    MODEM_MODELS,
    PHONE_VENDORS,
    SIMBANK_MODELS,
    Tacs,
    id_hashes,
    imsis,
)
from telshield.world.geography import CITIES, CITY_CODES, PROVINCE, Cells, Counties
from telshield.world.nodes import SCENARIO, Nodes
from telshield.world.population import Roaming
from telshield.world.registry import Sims, device_ids, random_ips
from telshield.world.tables import digits, pick, prefixed, table, times

DAY = 86_400


def cells_table(cells: Cells, counties: Counties) -> pa.Table:
    """The cells feed."""
    return table("cells", {
        "cell_id": cells.cell_id, "lat": cells.lat, "lon": cells.lon,
        "county": counties.name[cells.county],
        "city": np.array(CITIES, dtype=object)[cells.city],
        "province": np.full(len(cells), PROVINCE, dtype=object),
    })


def registration_order(nodes: Nodes, sims: Sims) -> np.ndarray:
    """The order of the subscribers feed's rows: by registration time, then number."""
    return np.lexsort((nodes.msisdn[sims.node], sims.reg_s))


def subscribers_and_orders(rng: np.random.Generator, start: datetime, nodes: Nodes, sims: Sims,
                           restricted_share: float, key: bytes) -> tuple[pa.Table, pa.Table]:
    """The subscribers feed (one row per SIM) and the orders feed (e-channel orders); identities
    hashed under ``key``."""
    order = registration_order(nodes, sims)
    s = {k: v[order] for k, v in vars(sims).items()}
    n = len(order)
    online = np.array([c is not None for c in s["order_channel"]], dtype=bool)
    created = s["reg_s"] - rng.integers(3600, 3 * DAY, n)
    # Orders that never became a SIM (abandoned, refused): about one in twenty.
    extra = max(1, int(online.sum()) // 20)
    e_created = rng.integers(int(s["reg_s"].min()), int(s["reg_s"].max()) + 1, extra)
    all_created = np.concatenate([created[online], e_created])
    o_order = np.argsort(all_created, kind="stable")
    seq = np.empty(len(all_created), np.int64)
    seq[o_order] = np.arange(len(all_created))
    order_ids = np.array(prefixed("O", seq).to_pylist(), dtype=object)
    sub_order = np.full(n, None, dtype=object)
    sub_order[online] = order_ids[: int(online.sum())]
    status = np.where(rng.random(n) < restricted_share, "restricted", "active").astype(object)
    msisdn = nodes.msisdn[s["node"]]
    subs = table("subscribers", {
        "msisdn": digits(msisdn), "imsi": imsis(rng, n), "id_hash": id_hashes(s["person"], key),
        "holder_kind": s["holder"], "registered_at": times(start, s["reg_s"]),
        "channel_id": s["channel_id"], "staff_id": s["staff_id"],
        "terminal_id": s["terminal_id"], "order_id": sub_order, "status": status,
    })
    e_person = np.array([f"window-shopper-{k}" for k in range(extra)], dtype=object)
    persons = np.concatenate([s["person"][online], e_person])
    channels = np.concatenate([s["order_channel"][online],
                               np.array(["app", "web", "mini_program", "partner"],
                                        dtype=object)[rng.integers(0, 4, extra)]])
    contact = np.concatenate([s["contact"][online], msisdn[rng.integers(0, n, extra)]])
    address = np.concatenate([s["address"][online], np.char.add("addr-", e_person.astype(str))])
    device = np.concatenate([s["device"][online], device_ids(rng, extra)])
    ip = np.concatenate([s["ip"][online], random_ips(rng, extra)])
    o_msisdn = np.concatenate([msisdn[online], np.zeros(extra, np.int64)])
    null_msisdn = np.concatenate([np.zeros(int(online.sum()), bool), np.ones(extra, bool)])
    orders = table("orders", {
        "order_id": order_ids, "created_at": times(start, all_created), "channel": channels,
        "id_hash": id_hashes(persons, key), "msisdn": digits(o_msisdn, null_msisdn),
        "contact_msisdn": digits(contact), "address_hash": id_hashes(address, key),
        "ip": ip, "device_id": device,
    })
    return subs, orders.take(pa.array(o_order))


REASONS = ("sold SIM cards to fraud gang", "opened cards for fraud gang",
           "rented out SIM cards", "ran a GOIP den")
AUTHORITIES = ("Jiangsu Public Security Department", "Ministry of Public Security")


def sanctions_table(rng: np.random.Generator, start: datetime, rows: list[dict[str, Any]],
                    key: bytes) -> pa.Table:
    """The sanctions feed (identities hashed under ``key``)."""
    n = len(rows)
    return table("sanctions", {
        "id_hash": id_hashes([r["person"] for r in rows], key),
        "starts_at": times(start, np.array([r["starts"] for r in rows], dtype=np.int64)),
        "ends_at": times(start, np.array([r["ends"] for r in rows], dtype=np.int64)),
        "reason": np.array(REASONS, dtype=object)[rng.integers(0, len(REASONS), n)],
        "authority": np.array(AUTHORITIES, dtype=object)[rng.integers(0, 2, n)],
    })


def device_intel_table(tacs: Tacs) -> pa.Table:
    """The device_intel feed: listed phone models and every GOIP, SIM-bank and modem TAC."""
    phones = tacs.phone[tacs.phone_listed]
    vendors = np.array(PHONE_VENDORS, dtype=object)[tacs.phone_vendor[tacs.phone_listed]]
    rows = [(int(t), "phone", str(v), f"{v} {1000 + i}") for i, (t, v) in
            enumerate(zip(phones, vendors, strict=True))]
    for kind, models, codes in (("goip", GOIP_MODELS, tacs.goip),
                                ("simbank", SIMBANK_MODELS, tacs.simbank),
                                ("modem", MODEM_MODELS, tacs.modem)):
        rows += [(int(t), kind, v, m) for t, (v, m) in zip(codes, models, strict=True)]
    rows += [(int(t), "deskphone", v, m) for t, (v, m), listed in
             zip(tacs.deskphone, DESKPHONE_MODELS, tacs.deskphone_listed, strict=False) if listed]
    rows.sort()
    return table("device_intel", {
        "tac": [str(r[0]) for r in rows], "kind": [r[1] for r in rows],
        "vendor": [r[2] for r in rows], "model": [r[3] for r in rows],
    })


FRAUD_TYPES = ("impersonation_police", "impersonation_customer_service", "investment", "loan",
               "brushing", "romance", "gaming", "other")


def clues_table(rng: np.random.Generator, start: datetime, days: int, nodes: Nodes,
                first_victim: np.ndarray, share: float, median_h: float, sigma: float
                ) -> pa.Table:
    """Police clues: for a share of fraud numbers, some hours to days after the first victim."""
    has = np.flatnonzero(first_victim < np.iinfo(np.int64).max)
    chosen = has[rng.random(len(has)) < share]
    delay = (median_h * np.exp(rng.normal(0, sigma, len(chosen))) * 3600).astype(np.int64)
    at = first_victim[chosen] + delay
    keep = at < days * DAY
    chosen, at = chosen[keep], at[keep]
    order = np.argsort(at, kind="stable")
    chosen, at = chosen[order], at[order]
    n = len(chosen)
    ftype = rng.integers(0, len(FRAUD_TYPES), n)
    svc = nodes.scenario[chosen] == SCENARIO["spoofed"]
    ftype[svc] = np.where(rng.random(int(svc.sum())) < 0.5, 0, 1)
    victim_city = rng.integers(0, len(CITIES), n)
    year = start.year
    codes = np.array([CITY_CODES[c] for c in CITIES], dtype=object)[victim_city]
    return table("clues", {
        "clue_id": [f"JS-FZ-{year}-{k + 1:06d}" for k in range(n)],
        "reported_at": times(start, at),
        "msisdn": digits(nodes.msisdn[chosen]),
        "case_ref": [f"{c}-{year}-{rng.integers(1, 10_000):05d}" for c in codes],
        "fraud_type": np.array(FRAUD_TYPES, dtype=object)[ftype],
        "unit": [f"{CITIES[c]} anti-fraud centre" for c in victim_city],
    })


def roaming_table(start: datetime, roaming: Roaming, nodes: Nodes) -> pa.Table:
    """The roaming feed: our subscribers' location updates on foreign networks."""
    return table("roaming", {
        "msisdn": digits(nodes.msisdn[roaming.node]), "at": times(start, roaming.at),
        "visited_country": roaming.country, "visited_network": roaming.network,
        "event": roaming.event,
    })


__all__ = [
    "cells_table",
    "clues_table",
    "device_intel_table",
    "pick",
    "registration_order",
    "roaming_table",
    "sanctions_table",
    "subscribers_and_orders",
]
