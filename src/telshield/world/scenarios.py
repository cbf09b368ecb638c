"""Fraud on the network: fraud-SIM crews, GOIP and audio-cable dens, other networks' fraud
callers and spoofed caller IDs. (Gangs and sanctions, on the registration side, live in
``trafficking``.)

Each builder returns a block of nodes (and the SIMs it registered with us) plus its truth rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from telshield.world import numbering as nb
from telshield.world.devices import imeis, luhn_complete
from telshield.world.nodes import PROFILE, ROLE, SCENARIO, Nodes, blank
from telshield.world.population import OTHER_PROVINCE_CITY, Province, operator_of
from telshield.world.registry import Channels, Sims, ordinary_sims
from telshield.world.trafficking import QUIET_DAYS, Gangs

DAY = 86_400


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * np.exp(rng.normal(0.0, sigma, n))


def _activate(nodes: Nodes, i: int, *, first: int, last: int, cells: np.ndarray, imei: int,
              role: str, profile: str, rate: float, sms: float, peer: int = -1,
              peer_calls: float = 0.0) -> None:
    nodes.peer[i] = peer
    nodes.peer_calls[i] = peer_calls
    nodes.peer_in[i] = 0.5 if peer_calls > 0 else 0.0
    nodes.first_day[i] = first
    nodes.last_day[i] = last
    nodes.home[i], nodes.office[i] = cells[0], cells[1]
    nodes.extra[i, : len(cells)] = cells
    nodes.n_extra[i] = len(cells)
    nodes.roams[i] = len(cells) > 2  # on the move: any of its cells at any hour
    nodes.imei_a[i] = imei
    nodes.role[i] = ROLE[role]
    nodes.profile[i] = PROFILE[profile]
    nodes.work[i] = rate
    nodes.sms[i] = sms


def _two_cells(rng: np.random.Generator, p: Province, county: int, two: bool) -> np.ndarray:
    """One cell of the county, and either itself or its nearest neighbour in the county."""
    a = int(p.cix.in_county(rng, np.array([county]))[0])
    if not two:
        return np.array([a, a], np.int32)
    start, count = p.cix.county_start[county], p.cix.county_count[county]
    members = p.cix.county_cells[start : start + count]
    d = (p.cells.lat[members] - p.cells.lat[a]) ** 2 + (p.cells.lon[members] - p.cells.lon[a]) ** 2
    d[members == a] = np.inf
    return np.array([a, int(members[np.argmin(d)]) if len(members) > 1 else a], np.int32)


@dataclass(frozen=True)
class _Slot:
    """One fraud SIM of a crew: its days, cells, phone, card, habits and handler."""

    first: int
    last: int
    cells: np.ndarray
    imei: int
    card: int  # a gang's card, or -1 for a fresh trafficker SIM
    office: bool  # calls only in weekday office hours
    handler: int  # number of the crew's handler (cover calls), -1


def _handler(rng: np.random.Generator, p: Province) -> int:
    """A crew's handler: a number abroad or in another province."""
    if rng.random() < 0.5:
        return int(nb.foreign_numbers(rng, 1)[0])
    return int(p.new_numbers(rng, p.hcodes(operator=None, jiangsu_city=None), 1)[0])


@dataclass
class Block:
    """Fresh nodes made by a scenario, the SIMs of ours among them, and truth rows."""

    nodes: Nodes
    sims: Sims | None
    truth: list[dict[str, Any]] = field(default_factory=list)


def _fresh_sims(rng: np.random.Generator, p: Province, channels: Channels, nodes: Nodes,
                idx: np.ndarray, label: str, shell_share: float = 0.0) -> Sims:
    """Trafficker SIMs: opened by one-off openers (a card or three each) at ordinary stores;
    ``shell_share`` of them are enterprise cards of shell companies (five cards a company)."""
    idle = _lognormal(rng, p.cfg.fraud_sim.idle_days_median, 0.5, len(idx))
    reg = (nodes.first_day[idx].astype(np.int64) - idle) * DAY
    reg = reg.astype(np.int64) - rng.integers(0, 6 * 3600, len(idx))
    persons = np.array([f"{label}-opener-{int(k) // 2}" for k in rng.permutation(len(idx))],
                       dtype=object)
    holder = np.full(len(idx), "individual", dtype=object)
    shell = np.flatnonzero(p.rng2.random(len(idx)) < shell_share)  # second stream: see Province
    holder[shell] = "enterprise"
    persons[shell] = [f"{label}-shell-company-{k // 5}" for k in range(len(shell))]
    return ordinary_sims(
        rng, channels, node=idx, city=nodes.city[idx], reg_s=reg, person=persons,
        holder=holder,
        contacts=p.new_numbers(rng, p.hcodes(operator=None, jiangsu_city=0), len(idx)),
        echannel_share=p.cfg.social.echannel_share,
    )


def crews(rng: np.random.Generator, p: Province, channels: Channels, gang: Gangs) -> Block:
    """Crews that burn one fraud SIM after another from one or two cells of a county."""
    f = p.cfg.fraud_sim
    days = p.days
    n_crews = p.cfg.per_100k(f.crews_per_100k)
    county_w = p.counties.population / p.counties.population.sum()
    # Stealthier habits (office hours, a handler, moving) come from the second stream.
    r2 = p.rng2
    slots: list[_Slot] = []
    for _crew in range(n_crews):
        county = int(rng.choice(len(county_w), p=county_w))
        mobile = bool(rng.random() < f.mobile_crew_share)  # calling from a car around the county
        if mobile:
            cells = p.cix.in_county(rng, np.full(int(rng.integers(4, 9)), county))
        else:
            cells = _two_cells(rng, p, county, bool(rng.random() < f.two_cells_share))
        phone = int(p.phones(rng, 1)[0])
        new_phone_each = bool(rng.random() < f.new_phone_share)
        office = bool(r2.random() < f.office_hours_share)
        handler = _handler(r2, p) if f.cover_calls_per_day > 0 else -1
        t = -float(rng.uniform(0, f.lifetime_days_median))
        while t < days:
            drawn = _lognormal(rng, f.lifetime_days_median, f.lifetime_days_sigma, 1)[0]
            life = max(1.0, float(drawn))
            first, last = max(0, int(np.floor(t))), min(days, int(np.ceil(t + life)))
            if last > first:
                imei = int(p.phones(rng, 1)[0]) if new_phone_each else phone
                card = -1
                if rng.random() < f.from_gang_share:
                    card = gang.take(1, first * DAY - QUIET_DAYS * DAY)
                slots.append(_Slot(first, last, cells, imei, card, office, handler))
                if r2.random() < f.relocate_share:  # the crew moves before its next SIM
                    county = int(r2.choice(len(county_w), p=county_w))
                    cells = (p.cix.in_county(r2, np.full(len(cells), county)) if mobile
                             else _two_cells(r2, p, county, bool(cells[0] != cells[1])))
            t += life + float(rng.integers(0, 2))
    fresh = [s for s in slots if s.card < 0]
    nodes = blank(len(fresh), days)
    nodes.ours[:] = True
    nodes.radio[:] = True
    nodes.operator[:] = nb.CM
    nodes.scenario[:] = SCENARIO["fraud_sim"]
    rates = _lognormal(rng, f.calls_per_day_median, f.calls_per_day_sigma, len(slots))
    cover = (_lognormal(r2, f.cover_calls_per_day, 0.5, len(slots)) if f.cover_calls_per_day > 0
             else np.zeros(len(slots)))
    j = 0
    for k, sl in enumerate(slots):
        target, i = (gang.nodes, sl.card) if sl.card >= 0 else (nodes, j)
        _activate(target, i, first=sl.first, last=sl.last, cells=sl.cells, imei=sl.imei,
                  role="fraud_sim", profile="fraud_sim_office" if sl.office else "fraud_sim",
                  rate=float(rates[k]), sms=f.sms_per_day, peer=sl.handler,
                  peer_calls=float(cover[k]) if sl.handler >= 0 else 0.0)
        if sl.card < 0:
            nodes.city[j] = p.counties.city[p.cells.county[sl.cells[0]]]
            j += 1
    for c in np.unique(nodes.city):
        m = nodes.city == c
        nodes.msisdn[m] = p.new_numbers(rng, p.hcodes(operator=nb.CM, jiangsu_city=int(c)),
                                        int(m.sum()))
    sims = _fresh_sims(rng, p, channels, nodes, np.arange(len(fresh)), "trafficker",
                       f.enterprise_share)
    return Block(nodes=nodes, sims=sims)


def dens(rng: np.random.Generator, p: Province, channels: Channels, gang: Gangs) -> Block:
    """GOIP dens (8-32 ports) and audio-cable dens, SIMs swapped every few days."""
    d = p.cfg.dens
    days = p.days
    n_dens = p.cfg.per_100k(d.per_100k)
    county_w = p.counties.population / p.counties.population.sum()
    provinces = np.unique(p.segments.province[(p.segments.jiangsu_city < 0)
                                              & (p.segments.operator == nb.CM)])
    rows: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    # Kinds by quota, so that a small province still has every kind the mix asks for.
    n_audio = max(1, round(n_dens * d.audio_cable_share)) if n_dens > 1 else 0
    n_rot = max(1, round((n_dens - n_audio) * d.rotating_imei_share)) if n_dens > 2 else 0
    n_audio = n_audio if d.audio_cable_share else 0
    n_rot = n_rot if d.rotating_imei_share else 0
    kinds = rng.permutation([2] * n_audio + [1] * n_rot + [0] * (n_dens - n_audio - n_rot))
    for den in range(n_dens):
        audio = bool(kinds[den] == 2)
        rotating = bool(kinds[den] == 1)
        # A GOIP whose ports carry a fixed phone-looking TAC (second stream: see Province).
        forged = not audio and not rotating and bool(p.rng2.random() < d.forged_tac_share)
        lo, hi = ((d.audio_cable_ports_min, d.audio_cable_ports_max) if audio
                  else (d.ports_min, d.ports_max))
        ports = int(rng.integers(lo, hi + 1))
        county = int(rng.choice(len(county_w), p=county_w))
        cells = _two_cells(rng, p, county, bool(rng.random() < d.two_cells_share))
        tac = int(rng.choice(p.tacs.goip))
        if forged:
            tac = int(p.rng2.choice(p.tacs.phone))
        base = int(rng.integers(0, 900_000))
        home = rng.choice(provinces, size=2, replace=False)
        start = int(rng.integers(0, max(days // 3, 1)))
        for port in range(ports):
            if audio:
                imei = int(p.phones(rng, 1)[0])
            else:
                imei = int(luhn_complete(np.array([tac * 1_000_000 + base + port]))[0])
            t = start - int(rng.integers(0, d.swap_days_max))
            while t < days:
                life = int(rng.integers(d.swap_days_min, d.swap_days_max + 1))
                first, last = max(t, start), min(t + life, days)
                if last > first:
                    if rotating:
                        imei = int(imeis(rng, p.tacs.phone, None, 1)[0])
                    card = -1
                    ours = bool(rng.random() < d.our_card_share)
                    if ours and not audio:
                        card = gang.take(2, first * DAY - QUIET_DAYS * DAY)
                    row = {"den": den, "first": first, "last": last, "cells": cells,
                           "imei": imei, "card": card, "audio": audio, "ours": ours,
                           "province": str(home[int(rng.integers(0, 2))]), "relay": False}
                    rows.append(row)
                    if audio:  # the phone that takes the fraudster's call from abroad
                        rows.append({**row, "imei": int(p.phones(rng, 1)[0]), "relay": True})
                t += life
        imeis_kind = ("phones" if audio else "rotating" if rotating
                      else "forged_tac" if forged else "own_tac")
        truth.append({"den": den, "cells": cells, "county": county,
                      "kind": "audio_cable" if audio else "goip", "ports": ports,
                      "tac": None if audio or rotating or forged else tac, "imeis": imeis_kind})
    fresh = [r for r in rows if r["card"] < 0]
    nodes = blank(len(fresh), days)
    nodes.radio[:] = True
    nodes.role[:] = ROLE["den_sim"]
    rate = _lognormal(rng, d.calls_per_port_day, 0.3, len(rows))
    home_of: dict[int, str] = {}
    j = 0
    for k, r in enumerate(rows):
        target, i = (gang.nodes, r["card"]) if r["card"] >= 0 else (nodes, j)
        prof = "audio_cable_den" if r["audio"] else "goip_den"
        _activate(target, i, first=r["first"], last=r["last"], cells=r["cells"], imei=r["imei"],
                  role="den_sim", profile=prof, rate=0.0 if r["relay"] else float(rate[k]),
                  sms=0.0)
        target.den[i] = r["den"]
        if r["relay"]:
            nodes.partner[j - 1] = j  # fresh rows stay in order: the port, then its relay
        if r["card"] < 0:
            nodes.scenario[j] = SCENARIO["audio_cable_den" if r["audio"] else "goip_den"]
            nodes.ours[j] = r["ours"]
            if r["ours"]:
                nodes.city[j] = p.counties.city[p.cells.county[r["cells"][0]]]
                nodes.operator[j] = nb.CM
            else:
                nodes.city[j] = OTHER_PROVINCE_CITY
                nodes.jiangsu[j] = False
                home_of[j] = r["province"]
            j += 1
    for prov in sorted(set(home_of.values())):
        m = np.array([k for k, v in home_of.items() if v == prov], dtype=np.int64)
        codes = p.segments.hcode[(p.segments.province == prov) & (p.segments.operator == nb.CM)]
        nodes.msisdn[m] = p.new_numbers(rng, codes, len(m))
    mine = np.flatnonzero(nodes.ours)
    for c in np.unique(nodes.city[mine]):
        m = mine[nodes.city[mine] == c]
        nodes.msisdn[m] = p.new_numbers(rng, p.hcodes(operator=nb.CM, jiangsu_city=int(c)), len(m))
    nodes.operator[~nodes.ours] = nb.CM
    sims = _fresh_sims(rng, p, channels, nodes, mine, "den-supplier")
    return Block(nodes=nodes, sims=sims, truth=truth)


def offnet_fraud(rng: np.random.Generator, p: Province) -> Block:
    """Fraud callers on other operators' networks (Jiangsu and elsewhere) calling ours."""
    o = p.cfg.offnet_fraud
    n = p.cfg.per_100k(o.callers_per_100k)
    nodes = blank(n, p.days)
    nodes.role[:] = ROLE["offnet_fraud"]
    nodes.scenario[:] = SCENARIO["offnet_fraud"]
    nodes.profile[:] = PROFILE["offnet_fraud"]
    local = rng.random(n) < 0.4
    nodes.jiangsu[:] = local
    nodes.city[:] = np.where(local, rng.integers(0, OTHER_PROVINCE_CITY, n), OTHER_PROVINCE_CITY)
    for c in np.unique(nodes.city):
        m = nodes.city == c
        codes = p.hcodes(operator=None, jiangsu_city=None if c == OTHER_PROVINCE_CITY else int(c))
        codes = codes[p.segments.operator[np.searchsorted(p.segments.hcode, codes)] != nb.CM]
        nodes.msisdn[m] = p.new_numbers(rng, codes, int(m.sum()))
    nodes.operator[:] = operator_of(p, nodes.msisdn)
    life = np.maximum(1, _lognormal(rng, o.lifetime_days_median, 0.6, n)).astype(np.int64)
    start = rng.integers(-life, p.days)
    nodes.first_day[:] = np.maximum(start, 0)
    nodes.last_day[:] = np.minimum(start + life, p.days)
    nodes.work[:] = _lognormal(rng, o.calls_per_day_median, 0.5, n)
    return Block(nodes=nodes, sims=None)


def spoofers(rng: np.random.Generator, p: Province) -> Block:
    """Presented numbers of spoofed calls: domestic mobiles, Jiangsu landlines, service lines."""
    s = p.cfg.spoofing
    n = p.cfg.per_100k(s.presented_numbers_per_100k)
    nodes = blank(n, p.days)
    nodes.role[:] = ROLE["spoofed"]
    nodes.scenario[:] = SCENARIO["spoofed"]
    intl = rng.random(n) < s.international_share
    nodes.profile[:] = np.where(intl, PROFILE["spoof_international"], PROFILE["spoof_interconnect"])
    kind = rng.random(n)
    mobile = kind < s.mobile_share
    landline = ~mobile & (kind < s.mobile_share + s.landline_share)
    service = ~mobile & ~landline
    nodes.msisdn[mobile] = p.new_numbers(rng, p.segments.hcode, int(mobile.sum()))
    nodes.operator[mobile] = operator_of(p, nodes.msisdn[mobile])
    nodes.msisdn[landline] = nb.landline_numbers(rng, int(landline.sum()))
    # Service numbers are few: each appears once (the rest of those slots become landlines).
    svc = np.flatnonzero(service)[: len(nb.SERVICE_NUMBERS)]
    nodes.msisdn[svc] = [int("86" + x) for x in nb.SERVICE_NUMBERS[: len(svc)]]
    rest = np.flatnonzero(service)[len(svc):]
    nodes.msisdn[rest] = nb.landline_numbers(rng, len(rest))
    nodes.operator[~mobile] = -1
    # Spread calls over presented numbers unevenly: a few are used a lot.
    nodes.work[:] = (1.0 / np.arange(1, n + 1) ** 0.7)[rng.permutation(n)]
    nodes.work *= p.cfg.per_100k(s.calls_per_100k_per_day) / nodes.work.sum()
    return Block(nodes=nodes, sims=None)


__all__ = ["Block", "crews", "dens", "offnet_fraud", "spoofers"]
