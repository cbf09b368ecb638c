"""Registration-side scenarios: card-trafficking gangs and sanctioned persons registering again.

Gangs open cards that crews and dens (``scenarios``) later put to use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from telshield.world import numbering as nb
from telshield.world.nodes import ROLE, SCENARIO, Nodes, blank
from telshield.world.population import Province
from telshield.world.registry import (
    ORDER_CHANNELS,
    Channels,
    Sims,
    device_ids,
    ordinary_sims,
    random_ips,
)

DAY = 86_400
QUIET_DAYS = 10  # a trafficked card lies quiet at least this long before it is put to use


@dataclass
class Gangs:
    """Cards opened for gangs; ``dest`` 1 = sold as fraud SIMs, 2 = to dens, 0 = lying quiet."""

    nodes: Nodes
    sims: Sims
    dest: np.ndarray
    used: np.ndarray
    truth: list[dict[str, Any]] = field(default_factory=list)

    def take(self, dest: int, before_s: int) -> int:
        """An unused card of that destination registered before ``before_s``; -1 if none."""
        ok = np.flatnonzero((self.dest == dest) & ~self.used & (self.sims.reg_s < before_s))
        if len(ok) == 0:
            return -1
        i = int(ok[0])
        self.used[i] = True
        return i


def gangs(rng: np.random.Generator, p: Province, channels: Channels) -> Gangs:
    """Recruiters send openers to a few colluding channels; several cards per ID within days."""
    g_cfg = p.cfg.gangs
    n_gangs = p.cfg.per_100k(g_cfg.per_100k)
    city_w = p.city_weights()
    node_rows: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    for g in range(n_gangs):
        city = int(rng.choice(len(city_w), p=city_w))
        stores = np.flatnonzero(channels.city == city)
        k_ch = int(rng.integers(g_cfg.channels_min, g_cfg.channels_max + 1))
        ch = rng.choice(stores, size=min(k_ch, len(stores)), replace=False)
        staff = {
            int(c): rng.integers(1, channels.n_staff[c] + 1,
                                 int(rng.integers(1, g_cfg.staff_per_channel_max + 1)))
            for c in ch
        }
        n_addr = int(rng.integers(1, g_cfg.addresses_max + 1))
        addresses = [f"gang-{g}-addr-{a}" for a in range(n_addr)]
        devices = device_ids(rng, int(rng.integers(1, g_cfg.devices_max + 1)))
        ips = random_ips(rng, 2)
        contacts = p.new_numbers(rng, p.hcodes(operator=None, jiangsu_city=city), 2)
        start = int(rng.integers(-50, max(p.days // 2, 1))) * DAY
        openers = int(rng.integers(g_cfg.openers_min, g_cfg.openers_max + 1))
        for o in range(openers):
            person = f"gang-{g}-opener-{o}"
            day0 = start + int(rng.integers(0, 2 * g_cfg.opening_spread_days)) * DAY
            cards = int(rng.integers(g_cfg.cards_per_opener_min, g_cfg.cards_per_opener_max + 1))
            for _ in range(cards):
                reg = day0 + int(rng.integers(0, g_cfg.opening_spread_days)) * DAY
                reg += int(rng.integers(9 * 3600, 20 * 3600))
                reg = min(reg, p.days * DAY - 3600)  # nothing after the window's end
                online = bool(rng.random() < g_cfg.echannel_share)
                ordered = ORDER_CHANNELS[int(rng.integers(0, 4))] if online else None
                c = int(rng.choice(ch))
                node_rows.append(
                    {
                        "gang": g,
                        "city": city,
                        "reg": reg,
                        "person": person,
                        "online": online,
                        "order_channel": ordered,
                        "channel": c,
                        "staff": int(rng.choice(staff[c])),
                        "terminal": int(rng.integers(1, channels.n_terminals[c] + 1)),
                        "address": addresses[int(rng.integers(0, len(addresses)))],
                        "device": devices[int(rng.integers(0, len(devices)))],
                        "ip": ips[int(rng.integers(0, 2))],
                        "contact": int(contacts[int(rng.integers(0, 2))]),
                    }
                )
        truth.append(
            {
                "gang": g,
                "channel_ids": [str(channels.channel_id[c]) for c in ch],
                "staff_ids": [
                    str(s) for c in ch for s in channels.staff_id(np.full(len(staff[int(c)]), c),
                                                                  staff[int(c)])
                ],
                "openers": [f"gang-{g}-opener-{o}" for o in range(openers)],
                "address_labels": addresses,
                "device_ids": [str(d) for d in devices],
                "contact_msisdns": [str(x) for x in contacts],
            }
        )
    n = len(node_rows)
    nodes = blank(n, p.days)
    nodes.ours[:] = True
    nodes.radio[:] = True
    nodes.operator[:] = nb.CM
    nodes.role[:] = ROLE["trafficked_card"]
    nodes.scenario[:] = SCENARIO["card_gang"]
    card_city = np.array([r["city"] for r in node_rows], dtype=np.int16)
    nodes.city[:] = card_city
    nodes.gang[:] = [r["gang"] for r in node_rows]
    nodes.first_day[:] = p.days  # quiet until a crew or a den puts them to use
    for c in np.unique(card_city):
        m = card_city == c
        nodes.msisdn[m] = p.new_numbers(rng, p.hcodes(operator=nb.CM, jiangsu_city=int(c)),
                                        int(m.sum()))
    sims = ordinary_sims(
        rng,
        channels,
        node=np.arange(n),
        city=card_city,
        reg_s=np.array([r["reg"] for r in node_rows], dtype=np.int64),
        person=np.array([r["person"] for r in node_rows], dtype=object),
        holder=np.full(n, "individual", dtype=object),
        contacts=np.array([r["contact"] for r in node_rows], dtype=np.int64),
        echannel_share=0.0,
    )
    ch_idx = np.array([r["channel"] for r in node_rows], dtype=np.int64)
    sims.channel_id = channels.channel_id[ch_idx].copy()
    sims.staff_id = channels.staff_id(ch_idx, np.array([r["staff"] for r in node_rows]))
    sims.terminal_id = channels.terminal_id(ch_idx, np.array([r["terminal"] for r in node_rows]))
    by_order = np.array([r["online"] for r in node_rows], dtype=bool)
    oc = np.array([r["order_channel"] for r in node_rows], dtype=object)
    sims.order_channel = oc
    sims.channel_id[by_order] = np.array(
        [f"EC-{str(x).upper()}" for x in oc[by_order]], dtype=object
    )
    sims.staff_id[by_order] = "ST-EC-AUTO"
    sims.terminal_id[by_order] = None
    sims.address = np.array([r["address"] for r in node_rows], dtype=object)
    sims.device = np.array([r["device"] for r in node_rows], dtype=object)
    sims.ip = np.array([r["ip"] for r in node_rows], dtype=object)
    # Of the cards not sold as fraud SIMs, most go to dens and the rest lie quiet.
    u = rng.random(n)
    to_den = g_cfg.to_fraud_sim + 0.6 * (1 - g_cfg.to_fraud_sim)
    dest = np.where(u < g_cfg.to_fraud_sim, 1, np.where(u < to_den, 2, 0))
    return Gangs(nodes=nodes, sims=sims, dest=dest, used=np.zeros(n, bool), truth=truth)


def sanctions(rng: np.random.Generator, p: Province, people: Nodes, reg_s: np.ndarray
              ) -> list[dict[str, Any]]:
    """Sanctioned persons; some register a new SIM in the window (taking over an ordinary node).

    Returns the sanction rows; ``people`` and ``reg_s`` are changed in place for re-registrants.
    """
    s = p.cfg.sanctions
    n = p.cfg.per_100k(s.persons_per_100k)
    rows = []
    candidates = np.flatnonzero(people.role == ROLE["normal"])
    # By quota, so that even a small province has someone trying again.
    k = max(1, round(n * s.reregister_share)) if n and s.reregister_share else 0
    rereg = np.zeros(n, bool)
    rereg[rng.permutation(n)[:k]] = True
    takers = rng.choice(candidates, size=int(rereg.sum()), replace=False)
    t_i = 0
    for k in range(n):
        starts = -int(rng.integers(30, 3 * 365)) * DAY
        years = int(rng.integers(1, 6))
        ends = starts + years * 365 * DAY
        if ends < 0:
            ends = int(rng.integers(p.days, p.days + 3 * 365)) * DAY
        row: dict[str, Any] = {"person": f"sanctioned-{k}", "starts": starts, "ends": ends,
                               "node": -1}
        if rereg[k]:
            i = int(takers[t_i])
            t_i += 1
            day = int(rng.integers(0, max(p.days - 1, 1)))
            people.role[i] = ROLE["sanctioned"]
            people.scenario[i] = SCENARIO["sanctions"]
            people.first_day[i] = day + 1
            reg_s[i] = day * DAY + int(rng.integers(9 * 3600, 19 * 3600))
            row["node"] = i
        rows.append(row)
    return rows
