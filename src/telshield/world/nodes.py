"""Everyone who makes or receives calls in the simulation, as parallel numpy arrays ("nodes").

A node is one number: our subscribers, people on other networks, visitors roaming in, fraud
SIMs, den SIMs, spoofed presented numbers. Behaviour is driven by per-node rates and a small
profile table, so each simulated day is a handful of vectorised draws over all nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

ROLES = (
    "normal", "courier", "sales", "customer_service", "taxi", "real_estate", "traveller",
    "phone_changer", "new_sim", "visitor", "sanctioned",
    "promoter", "telemarketing", "collection", "enterprise_line", "iot", "relay",
    "offnet_courier", "offnet_sales", "abroad_traveller",
    "fraud_sim", "den_sim", "trafficked_card", "offnet_fraud", "spoofed", "handler",
)
FRAUD_ROLES = ("fraud_sim", "den_sim", "trafficked_card", "offnet_fraud", "spoofed", "handler")
# Honest look-alikes that exist only when the config (or the prior) gives them a size.
OPTIONAL_ROLES = ("promoter", "telemarketing", "collection", "enterprise_line", "iot", "relay",
                  "offnet_courier", "offnet_sales", "abroad_traveller", "handler")
ROLE = {r: i for i, r in enumerate(ROLES)}

SCENARIOS = (
    "none", "fraud_sim", "goip_den", "audio_cable_den", "card_gang", "spoofed", "offnet_fraud",
    "sanctions",
)
SCENARIO = {s: i for i, s in enumerate(SCENARIOS)}

# Work profiles: how a node calls strangers (rates are per node, the rest per profile).
PROFILES = (
    "courier", "sales", "customer_service", "taxi", "real_estate", "promoter",
    "telemarketing", "collection", "enterprise", "relay", "iot", "offnet_courier", "offnet_sales",
    "fraud_sim", "fraud_sim_office", "goip_den", "audio_cable_den", "offnet_fraud",
    "spoof_international", "spoof_interconnect",
)
PROFILE = {p: i for i, p in enumerate(PROFILES)}

EXTRA = 12  # width of the per-node table of further cells (visits, a courier's round)


@dataclass
class Nodes:
    """Parallel arrays, one entry per number."""

    msisdn: np.ndarray  # int64 E.164 digits
    ours: np.ndarray  # bool: in our subscribers feed
    radio: np.ndarray  # bool: on our radio network while active (ours, visitors, den roamers)
    operator: np.ndarray  # int8 (numbering.CM ... FOREIGN, -1 = landline/service)
    jiangsu: np.ndarray  # bool: home region is Jiangsu
    city: np.ndarray  # int16 home city, 13 = elsewhere in China, 14 = abroad
    role: np.ndarray  # int8 index into ROLES
    scenario: np.ndarray  # int8 index into SCENARIOS
    den: np.ndarray  # int32 den number, -1
    gang: np.ndarray  # int32 gang number, -1
    social: np.ndarray  # float32 mean outgoing calls/day to contacts (0 = no social life)
    work: np.ndarray  # float32 mean outgoing calls/day to strangers
    incoming: np.ndarray  # float32 mean incoming calls/day from strangers
    sms: np.ndarray  # float32 mean SMS/day to strangers
    profile: np.ndarray  # int8 work profile, -1
    first_day: np.ndarray  # int16 first active day (inclusive)
    last_day: np.ndarray  # int16 last active day (exclusive)
    home: np.ndarray  # int32 cell, -1 when not on our radio
    office: np.ndarray  # int32 cell
    extra: np.ndarray  # int32 [n, EXTRA] further cells
    n_extra: np.ndarray  # int8 how many of ``extra`` are used
    roams: np.ndarray  # bool: at work hours on a round of ``extra`` cells, not at ``office``
    trip_from: np.ndarray  # int16
    trip_to: np.ndarray  # int16
    trip_cells: np.ndarray  # int32 [n, 2]
    imei_a: np.ndarray  # int64, -1
    imei_b: np.ndarray  # int64, -1
    switch_day: np.ndarray  # int16 day the phone changes from imei_a to imei_b
    partner: np.ndarray  # int64 relay phone of an audio-cable port (same block), -1
    peer: np.ndarray  # int64 number of a fixed counterpart (a crew's handler, an IoT platform), -1
    peer_calls: np.ndarray  # float32 calls/day with the peer (both ways)
    peer_sms: np.ndarray  # float32 SMS/day to the peer
    peer_in: np.ndarray  # float32 share of peer calls placed by the peer
    abroad_from: np.ndarray  # int64 second the node leaves for a foreign network, -1
    abroad_to: np.ndarray  # int64 second it comes back (exclusive), -1
    calls_home: np.ndarray  # bool: calls home with its own number while abroad

    def __len__(self) -> int:
        return len(self.msisdn)


def blank(n: int, days: int) -> Nodes:
    """``n`` nodes with neutral defaults (no activity, no cells, active all window)."""
    return Nodes(
        msisdn=np.zeros(n, np.int64),
        ours=np.zeros(n, bool),
        radio=np.zeros(n, bool),
        operator=np.zeros(n, np.int8),
        jiangsu=np.ones(n, bool),
        city=np.zeros(n, np.int16),
        role=np.zeros(n, np.int8),
        scenario=np.zeros(n, np.int8),
        den=np.full(n, -1, np.int32),
        gang=np.full(n, -1, np.int32),
        social=np.zeros(n, np.float32),
        work=np.zeros(n, np.float32),
        incoming=np.zeros(n, np.float32),
        sms=np.zeros(n, np.float32),
        profile=np.full(n, -1, np.int8),
        first_day=np.zeros(n, np.int16),
        last_day=np.full(n, days, np.int16),
        home=np.full(n, -1, np.int32),
        office=np.full(n, -1, np.int32),
        extra=np.full((n, EXTRA), -1, np.int32),
        n_extra=np.zeros(n, np.int8),
        roams=np.zeros(n, bool),
        trip_from=np.full(n, -1, np.int16),
        trip_to=np.full(n, -1, np.int16),
        trip_cells=np.full((n, 2), -1, np.int32),
        imei_a=np.full(n, -1, np.int64),
        imei_b=np.full(n, -1, np.int64),
        switch_day=np.full(n, 32_000, np.int16),
        partner=np.full(n, -1, np.int64),
        peer=np.full(n, -1, np.int64),
        peer_calls=np.zeros(n, np.float32),
        peer_sms=np.zeros(n, np.float32),
        peer_in=np.zeros(n, np.float32),
        abroad_from=np.full(n, -1, np.int64),
        abroad_to=np.full(n, -1, np.int64),
        calls_home=np.zeros(n, bool),
    )


def concat(parts: list[Nodes]) -> Nodes:
    """Stack node groups into one table (references inside a group follow it)."""
    out = Nodes(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Nodes)}
    )
    base = np.repeat(np.cumsum([0] + [len(p) for p in parts[:-1]]), [len(p) for p in parts])
    out.partner = np.where(out.partner >= 0, out.partner + base, -1)
    return out


def fixed_cells(nodes: Nodes, sl: slice, cells: np.ndarray) -> None:
    """Pin nodes in ``sl`` to the given cells ([n, 2]: used at random, like a den's two cells)."""
    nodes.home[sl] = cells[:, 0]
    nodes.office[sl] = cells[:, 1]
    nodes.extra[sl, 0] = cells[:, 0]
    nodes.extra[sl, 1] = cells[:, 1]
    nodes.n_extra[sl] = 2


@dataclass(frozen=True)
class CellIndex:
    """Cells grouped by county and city, for drawing a random cell in a place."""

    county_start: np.ndarray
    county_count: np.ndarray
    county_cells: np.ndarray  # cell indices sorted by county
    city_counties: list[np.ndarray]  # county indices of each city
    city_weights: list[np.ndarray]  # their population shares
    county_city: np.ndarray

    def in_county(self, rng: np.random.Generator, county: np.ndarray) -> np.ndarray:
        """One random cell in each given county."""
        off = (rng.random(len(county)) * self.county_count[county]).astype(np.int64)
        return self.county_cells[self.county_start[county] + off].astype(np.int32)

    def county_in_city(self, rng: np.random.Generator, city: np.ndarray) -> np.ndarray:
        """A random county of each given city, weighted by population."""
        out = np.zeros(len(city), np.int32)
        for c in np.unique(city):
            m = city == c
            out[m] = rng.choice(self.city_counties[c], size=int(m.sum()), p=self.city_weights[c])
        return out


def cell_index(cell_county: np.ndarray, county_city: np.ndarray, pop: np.ndarray) -> CellIndex:
    """Index cells by county; counties by city with their population weights."""
    order = np.argsort(cell_county, kind="stable")
    count = np.bincount(cell_county, minlength=len(county_city))
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    counties, weights = [], []
    for c in range(int(county_city.max()) + 1):
        idx = np.flatnonzero(county_city == c)
        counties.append(idx)
        weights.append(pop[idx] / pop[idx].sum())
    return CellIndex(start, count, order, counties, weights, county_city)
