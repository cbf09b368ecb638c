"""Honest look-alikes that are businesses: telemarketing and collection offices, companies' work
lines, machines with a SIM (IoT), ride-hailing and delivery relay numbers, and other operators'
couriers and sales lines calling our subscribers.

Each builder returns a block of nodes and the SIMs it registered with us. Their draws come from
the province's second stream (``Province.rng2``), so a province without them (the default) is
drawn exactly as before. How strongly a business shows to the operator — the share registered
to a company (holder kind enterprise or iot) rather than to staff as individuals, the share on
modem or desk-phone TACs and whether device_intel lists those — is drawn from the prior too.
"""

from __future__ import annotations

import numpy as np

from telshield.world import numbering as nb
from telshield.world.devices import luhn_complete
from telshield.world.geography import CITIES
from telshield.world.nodes import PROFILE, ROLE, SCENARIO, Nodes, blank, fixed_cells
from telshield.world.population import Province, _lognormal_mean, operator_of, place
from telshield.world.registry import Channels, Sims, ordinary_sims
from telshield.world.scenarios import Block

DAY = 86_400
CARDS_PER_ID = 5  # the per-operator limit of cards one identity may hold


def _sizes(rng: np.random.Generator, total: int, lo: int, hi: int) -> np.ndarray:
    """Group sizes drawn in [lo, hi] until they add up to ``total`` (the last one cut)."""
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(min(int(rng.integers(lo, max(hi, lo) + 1)), total - sum(sizes)))
    return np.array(sizes, dtype=np.int64)


def _holders(rng: np.random.Generator, company: np.ndarray, label: str, kind: str,
             registered_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Identity labels and holder kinds: each company registers its lines in its own name
    (``kind``) with probability ``registered_share``, else in its staff's names (individual),
    at most five cards per identity."""
    n_comp = int(company.max()) + 1 if len(company) else 0
    registered = rng.random(n_comp) < registered_share
    size = np.bincount(company, minlength=n_comp)
    staff = np.maximum(1, np.ceil(size / CARDS_PER_ID)).astype(np.int64)
    staff = staff + (rng.random(n_comp) * (size - staff + 1)).astype(np.int64)
    rank = np.zeros(len(company), np.int64)
    for c in range(n_comp):
        m = np.flatnonzero(company == c)
        rank[m] = np.arange(len(m))
    person = np.array([f"{label}-{c}" if registered[c] else f"{label}-{c}-staff-{r % staff[c]}"
                       for c, r in zip(company.tolist(), rank.tolist(), strict=True)], dtype=object)
    holder = np.where(registered[company], kind, "individual").astype(object)
    return person, holder


def _devices(rng: np.random.Generator, p: Province, company: np.ndarray, kind: np.ndarray
             ) -> np.ndarray:
    """IMEIs: a company's modems or desk phones are one model; phones are anyone's phones."""
    n = len(company)
    out = p.phones(rng, n)
    for name, pool in (("modem", p.tacs.modem), ("deskphone", p.tacs.deskphone)):
        m = kind == name
        if not m.any() or len(pool) == 0:
            continue
        model = pool[rng.integers(0, len(pool), int(company.max()) + 1)][company[m]]
        out[m] = luhn_complete(model * 1_000_000 + rng.integers(0, 1_000_000, len(model)))
    return out


def _ours(rng: np.random.Generator, p: Province, channels: Channels, *, company: np.ndarray,
          city: np.ndarray, cell: np.ndarray | None, device: np.ndarray, label: str, kind: str,
          registered_share: float, age_days: float, role: str, profile: str) -> Block:
    """Lines of ours held by companies: numbers, cells (fixed, or placed like people's),
    devices and registrations."""
    n = len(company)
    nodes = blank(n, p.days)
    nodes.ours[:] = True
    nodes.radio[:] = True
    nodes.operator[:] = nb.CM
    nodes.role[:] = ROLE[role]
    nodes.profile[:] = PROFILE[profile]
    nodes.city[:] = city
    for c in np.unique(city):
        m = city == c
        nodes.msisdn[m] = p.new_numbers(rng, p.hcodes(operator=nb.CM, jiangsu_city=int(c)),
                                        int(m.sum()))
    if cell is not None:
        fixed_cells(nodes, slice(0, n), np.stack([cell, cell], axis=1))
    nodes.imei_a[:] = _devices(rng, p, company, device)
    person, holder = _holders(rng, company, label, kind, registered_share)
    age = np.clip(age_days * np.exp(rng.normal(0, 0.5, n)), 30, 20 * 365)
    reg = -np.ceil(age).astype(np.int64) * DAY + rng.integers(9 * 3600, 18 * 3600, n)
    sims = ordinary_sims(rng, channels, node=np.arange(n), city=city, reg_s=reg, person=person,
                         holder=holder, contacts=nodes.msisdn, echannel_share=0.0)
    return Block(nodes=nodes, sims=sims)


def _company_cells(rng: np.random.Generator, p: Province, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A city (by population) and an office cell in it for each of ``n`` companies."""
    city = rng.choice(len(CITIES), size=n, p=p.city_weights()).astype(np.int16)
    return city, p.cix.in_county(rng, p.cix.county_in_city(rng, city))


def offices(rng: np.random.Generator, p: Province, channels: Channels, kind: str) -> Block:
    """Telemarketing or collection offices: 4-12 old SIMs of one company in one office cell."""
    o = p.cfg.offices
    rate = o.telemarketing_per_100k if kind == "telemarketing" else o.collection_per_100k
    n_off = p.cfg.per_100k(rate)
    sizes = rng.integers(o.lines_min, max(o.lines_max, o.lines_min) + 1, n_off)
    company = np.repeat(np.arange(n_off), sizes)
    city, cell = _company_cells(rng, p, n_off)
    u = rng.random(n_off)
    device = np.where(u < o.modem_share, "modem",
                      np.where(u < o.modem_share + o.deskphone_share, "deskphone", "phone"))
    block = _ours(rng, p, channels, company=company, city=city[company], cell=cell[company],
                  device=device[company].astype(object), label=f"{kind}-office", kind="enterprise",
                  registered_share=o.registered_share, age_days=o.sim_age_median_days,
                  role=kind, profile=kind)
    nd = block.nodes
    nd.work[:] = _lognormal_mean(rng, o.calls_per_line_day, o.calls_sigma, len(company))
    nd.sms[:] = 0.0
    return block


def companies(rng: np.random.Generator, p: Province, channels: Channels) -> Block:
    """Companies' work lines: one office, colleagues and clients, a few strangers a day."""
    e = p.cfg.enterprise
    sizes = _sizes(rng, round(e.share * p.cfg.world.subscribers), e.lines_min, e.lines_max)
    company = np.repeat(np.arange(len(sizes)), sizes)
    city, cell = _company_cells(rng, p, len(sizes))
    block = _ours(rng, p, channels, company=company, city=city[company], cell=None,
                  device=np.full(len(company), "phone", dtype=object), label="company",
                  kind="enterprise", registered_share=e.registered_share, age_days=400,
                  role="enterprise_line", profile="enterprise")
    nd, n, s = block.nodes, len(company), p.cfg.social
    place(rng, p, nd, slice(0, n), city[company], {})
    nd.office[:] = cell[company]
    nd.social[:] = _lognormal_mean(rng, s.calls_per_day, s.activity_sigma, n)
    nd.work[:] = _lognormal_mean(rng, e.stranger_calls_per_day, 0.5, n)
    nd.incoming[:] = _lognormal_mean(rng, e.incoming_strangers_per_day, 0.5, n)
    nd.sms[:] = _lognormal_mean(rng, 1.0, 0.5, n)
    return block


def iot(rng: np.random.Generator, p: Province, channels: Channels) -> Block:
    """Machines with a SIM: modems on a site that call and text their platform's number only."""
    c = p.cfg.iot
    sizes = _sizes(rng, round(c.share * p.cfg.world.subscribers), 1, c.devices_per_site_max)
    site = np.repeat(np.arange(len(sizes)), sizes)
    city, cell = _company_cells(rng, p, len(sizes))
    block = _ours(rng, p, channels, company=site, city=city[site], cell=cell[site],
                  device=np.full(len(site), "modem", dtype=object), label="iot-site", kind="iot",
                  registered_share=c.registered_share, age_days=500, role="iot", profile="iot")
    nd, n = block.nodes, len(site)
    platform = nb.landline_numbers(rng, len(sizes))
    nd.peer[:] = platform[site]
    nd.peer_calls[:] = _lognormal_mean(rng, c.calls_per_day, 0.5, n)
    nd.peer_sms[:] = _lognormal_mean(rng, c.sms_per_day, 0.5, n)
    return block


def relays(rng: np.random.Generator, p: Province, channels: Channels) -> Block:
    """Relay (privacy) numbers of ride-hailing and delivery platforms, at the platforms' sites."""
    r = p.cfg.relay
    n = p.cfg.per_100k(r.per_100k)
    platforms = int(rng.integers(1, 4))
    platform = rng.integers(0, platforms, n)
    city = rng.choice(len(CITIES), size=n, p=p.city_weights()).astype(np.int16)
    site = platform * len(CITIES) + city  # one site per platform and city
    cells = p.cix.in_county(rng, p.cix.county_in_city(
        rng, np.arange(platforms * len(CITIES)) % len(CITIES)))
    device = np.where(rng.random(n) < r.modem_share, "modem", "phone").astype(object)
    block = _ours(rng, p, channels, company=platform, city=city, cell=cells[site],
                  device=device, label="relay-platform", kind="enterprise",
                  registered_share=r.registered_share, age_days=300, role="relay",
                  profile="relay")
    nd = block.nodes
    nd.work[:] = _lognormal_mean(rng, r.calls_per_day, 0.4, n)
    nd.incoming[:] = _lognormal_mean(rng, r.incoming_per_day, 0.4, n)
    return block


def offnet_workers(rng: np.random.Generator, p: Province) -> Block:
    """Couriers and sales lines on other operators' networks who call our subscribers."""
    w = p.cfg.offnet_workers
    k_c, k_s = p.cfg.per_100k(w.couriers_per_100k), p.cfg.per_100k(w.sales_per_100k)
    n = k_c + k_s
    nodes: Nodes = blank(n, p.days)
    courier = np.arange(n) < k_c
    nodes.role[:] = np.where(courier, ROLE["offnet_courier"], ROLE["offnet_sales"])
    nodes.profile[:] = np.where(courier, PROFILE["offnet_courier"], PROFILE["offnet_sales"])
    city = rng.choice(len(CITIES), size=n, p=p.city_weights()).astype(np.int16)
    nodes.city[:] = city
    for c in np.unique(city):
        m = city == c
        nodes.msisdn[m] = p.new_numbers(rng, p.hcodes(operator=None, jiangsu_city=int(c)),
                                        int(m.sum()))
    nodes.operator[:] = operator_of(p, nodes.msisdn)
    s = p.cfg.social
    nodes.social[:] = np.where(courier, _lognormal_mean(rng, s.calls_per_day, s.activity_sigma, n),
                               0.0)
    nodes.work[:] = np.where(courier, _lognormal_mean(rng, w.courier_calls_per_day, 0.4, n),
                             _lognormal_mean(rng, w.sales_calls_per_day, 0.4, n))
    return Block(nodes=nodes, sims=None)


def handlers(numbers: np.ndarray, p: Province) -> Nodes:
    """The handlers fraud crews keep calling (cover traffic): numbers abroad or elsewhere in
    China, off our network, in truth only (role handler)."""
    peers = np.unique(numbers[numbers >= 0])
    nodes = blank(len(peers), p.days)
    nodes.msisdn[:] = peers
    nodes.role[:] = ROLE["handler"]
    nodes.scenario[:] = SCENARIO["fraud_sim"]
    foreign = ~nb.is_domestic(peers)
    nodes.jiangsu[:] = False
    nodes.city[:] = np.where(foreign, len(CITIES) + 1, len(CITIES))
    nodes.operator[:] = np.where(foreign, nb.FOREIGN, operator_of(p, peers))
    return nodes


__all__ = ["Sims", "companies", "handlers", "iot", "offices", "offnet_workers", "relays"]
