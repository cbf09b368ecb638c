"""Ordinary people: our subscribers (with the hard negatives), other networks' users, visitors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from telshield.world import numbering as nb
from telshield.world.config import WorkRole, WorldConfig
from telshield.world.devices import Tacs, imeis
from telshield.world.geography import CITIES, Cells, Counties
from telshield.world.nodes import EXTRA, ROLE, CellIndex, Nodes, blank

OTHER_PROVINCE_CITY = len(CITIES)  # 13
ABROAD_CITY = len(CITIES) + 1  # 14
WORK_PROFILES = ("courier", "sales", "customer_service", "taxi", "real_estate", "promoter")
DAY = 86_400
# Foreign networks our travellers attach to: ISO country, PLMN (MCC+MNC), and how often.
VISITED = (
    ("JP", "44010", 10), ("JP", "44020", 6), ("KR", "45005", 8), ("TH", "52001", 9),
    ("TH", "52005", 4), ("SG", "52501", 6), ("MY", "50212", 5), ("VN", "45204", 5),
    ("HK", "45400", 8), ("MO", "45501", 4), ("TW", "46692", 3), ("US", "310260", 4),
    ("GB", "23415", 3), ("FR", "20801", 3), ("DE", "26201", 2), ("AU", "50501", 3),
)


@dataclass
class Province:
    """Fixed context of one run: geography, number segments, devices, the config and seed."""

    cfg: WorldConfig
    counties: Counties
    cells: Cells
    cix: CellIndex
    segments: nb.Segments
    tacs: Tacs
    phone_weights: np.ndarray
    # A second random stream for behaviours added after the first release, so that a province
    # without them (the default) is drawn exactly as before.
    rng2: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    taken: set[int] = field(default_factory=set)  # numbers already handed out

    @property
    def days(self) -> int:
        """Simulated days."""
        return self.cfg.world.days

    def city_weights(self) -> np.ndarray:
        """Population share of each city."""
        pop = np.bincount(self.counties.city, weights=self.counties.population)
        return pop / pop.sum()

    def new_numbers(self, rng: np.random.Generator, hcodes: np.ndarray, n: int) -> np.ndarray:
        """``n`` numbers in the H-codes, distinct from every number handed out so far."""
        out = nb.unique_mobile_numbers(rng, hcodes, n, self.taken)
        self.taken.update(out.tolist())
        return out

    def phones(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """IMEIs of ordinary phones, popular models more often."""
        return imeis(rng, self.tacs.phone, self.phone_weights, n)

    def hcodes(self, *, operator: int | None, jiangsu_city: int | None) -> np.ndarray:
        """H-codes of an operator in a Jiangsu city (None = outside Jiangsu).

        ``operator=None`` means any operator outside Jiangsu and any but ours inside it.
        """
        s = self.segments
        m = s.jiangsu_city < 0 if jiangsu_city is None else s.jiangsu_city == jiangsu_city
        if operator is not None:
            m &= s.operator == operator
        elif jiangsu_city is not None:
            m &= s.operator != nb.CM
        return s.hcode[m]


def _lognormal_mean(rng: np.random.Generator, mean: float, sigma: float, n: int) -> np.ndarray:
    return (mean * np.exp(rng.normal(-sigma * sigma / 2, sigma, n))).astype(np.float32)


def _assign_roles(rng: np.random.Generator, cfg: WorldConfig, n: int) -> np.ndarray:
    names = [*WORK_PROFILES, "traveller", "phone_changer", "new_sim"]
    shares = [getattr(cfg.roles, r).share for r in names]
    counts = [round(s * n) for s in shares]
    role = np.full(n, ROLE["normal"], np.int8)
    pos = rng.permutation(n)
    i = 0
    for name, k in zip(names, counts, strict=True):
        role[pos[i : i + k]] = ROLE[name]
        i += k
    return role


def place(rng: np.random.Generator, p: Province, nodes: Nodes, sl: slice, city: np.ndarray,
           roles: dict[str, WorkRole]) -> None:
    """Home, office and further cells of people living in ``city``."""
    cfg = p.cfg.social
    n = len(city)
    home_county = p.cix.county_in_city(rng, city)
    nodes.home[sl] = p.cix.in_county(rng, home_county)
    same = rng.random(n) < 0.25
    office_county = np.where(same, home_county, p.cix.county_in_city(rng, city))
    has_office = rng.random(n) < cfg.workplace_share
    nodes.office[sl] = np.where(has_office, p.cix.in_county(rng, office_county), nodes.home[sl])
    extra = np.full((n, EXTRA), -1, np.int32)
    for k in range(cfg.other_cells):
        wide = rng.random(n) < cfg.other_cells_wide
        county = np.where(wide, p.cix.county_in_city(rng, city), home_county)
        extra[:, k] = p.cix.in_county(rng, county)
    n_extra = np.full(n, cfg.other_cells, np.int8)
    role = nodes.role[sl]
    roams = np.zeros(n, bool)
    for name, r in roles.items():
        m = role == ROLE[name]
        if r.roam_cells == 0 or not m.any():
            continue
        k = int(m.sum())
        for j in range(r.roam_cells):
            wide = rng.random(k) < 0.3
            county = np.where(wide, p.cix.county_in_city(rng, city[m]), home_county[m])
            extra[m, j] = p.cix.in_county(rng, county)
        n_extra[m] = r.roam_cells
        roams[m] = True
    nodes.extra[sl] = extra
    nodes.n_extra[sl] = n_extra
    nodes.roams[sl] = roams


def subscribers(rng: np.random.Generator, p: Province) -> tuple[Nodes, np.ndarray]:
    """Our ordinary subscribers and the hard negatives; returns them with registration offsets.

    The offsets are seconds from the window start to each SIM's activation (negative = before).
    """
    cfg, days = p.cfg, p.days
    n = cfg.world.subscribers
    nodes = blank(n, days)
    nodes.ours[:] = True
    nodes.radio[:] = True
    nodes.operator[:] = nb.CM
    nodes.role[:] = _assign_roles(rng, cfg, n)
    city = rng.choice(len(CITIES), size=n, p=p.city_weights()).astype(np.int16)
    nodes.city[:] = city
    for c in range(len(CITIES)):
        m = city == c
        nodes.msisdn[m] = p.new_numbers(rng, p.hcodes(operator=nb.CM, jiangsu_city=c), int(m.sum()))
    roles = cfg.roles.work_roles()
    place(rng, p, nodes, slice(0, n), city, roles)
    s = cfg.social
    nodes.social[:] = _lognormal_mean(rng, s.calls_per_day, s.activity_sigma, n)
    young = np.zeros(n, bool)
    for i, name in enumerate(WORK_PROFILES):
        m = nodes.role == ROLE[name]
        r = roles[name]
        k = int(m.sum())
        nodes.profile[m] = i
        if not r.personal_life:
            nodes.social[m] = 0.0
        young[m] = rng.random(k) < r.young_sim_share
        nodes.work[m] = _lognormal_mean(rng, r.stranger_calls_per_day, 0.4, k)
        nodes.incoming[m] = _lognormal_mean(rng, r.incoming_strangers_per_day, 0.4, k)
        nodes.sms[m] = _lognormal_mean(rng, r.stranger_sms_per_day, 0.4, k)
    # Phones: one each; phone changers (and a few others) switch once in the window.
    nodes.imei_a[:] = p.phones(rng, n)
    changes = (nodes.role == ROLE["phone_changer"]) | (
        rng.random(n) < s.phone_change_per_day * days
    )
    k = int(changes.sum())
    nodes.imei_b[changes] = p.phones(rng, k)
    nodes.switch_day[changes] = rng.integers(1, max(days, 2), k)
    # Travellers spend a few days in another city of the province.
    trav = np.flatnonzero(nodes.role == ROLE["traveller"])
    length = rng.integers(2, 6, len(trav))
    start = rng.integers(0, max(days - 1, 1), len(trav))
    nodes.trip_from[trav] = start
    nodes.trip_to[trav] = np.minimum(start + length, days)
    other = (city[trav] + rng.integers(1, len(CITIES), len(trav))) % len(CITIES)
    for j in range(2):
        nodes.trip_cells[trav, j] = p.cix.in_county(rng, p.cix.county_in_city(rng, other))
    # SIM ages: log-normal months to years; honest new SIMs are days old or activate now.
    age_days = np.exp(rng.normal(np.log(s.sim_age_median_days), s.sim_age_sigma, n))
    age_days = np.clip(age_days, 3, 20 * 365)
    # Registered in shop hours, some whole number of days before the window.
    reg = -np.ceil(age_days).astype(np.int64) * 86_400 + rng.integers(9 * 3600, 21 * 3600, n)
    weeks = rng.integers(1, 12, int(young.sum())) * 7  # workers' SIMs only weeks old
    reg[young] = -weeks.astype(np.int64) * 86_400 + rng.integers(9 * 3600, 21 * 3600, len(weeks))
    new = nodes.role == ROLE["new_sim"]
    reg_day = rng.integers(-20, max(days - 1, 1), int(new.sum()))
    reg[new] = reg_day * 86_400 + rng.integers(8 * 3600, 20 * 3600, len(reg_day))
    nodes.first_day[new] = np.maximum(reg_day + 1, 0)
    return nodes, reg


def offnet(rng: np.random.Generator, p: Province) -> Nodes:
    """People on other networks (and abroad) who talk with our subscribers."""
    w = p.cfg.world
    n = round(w.subscribers * w.offnet_per_subscriber)
    nodes = blank(n, p.days)
    kind = rng.random(n)
    foreign = kind < w.offnet_foreign
    remote = ~foreign & (kind < w.offnet_foreign + w.offnet_other_province)
    local = ~foreign & ~remote
    nodes.social[:] = _lognormal_mean(
        rng, p.cfg.social.calls_per_day, p.cfg.social.activity_sigma, n
    )
    nodes.operator[foreign] = nb.FOREIGN
    nodes.jiangsu[foreign | remote] = False
    nodes.city[foreign] = ABROAD_CITY
    nodes.city[remote] = OTHER_PROVINCE_CITY
    nodes.msisdn[foreign] = nb.foreign_numbers(rng, int(foreign.sum()))
    rem = np.flatnonzero(remote)
    codes = p.hcodes(operator=None, jiangsu_city=None)
    nodes.msisdn[rem] = p.new_numbers(rng, codes, len(rem))
    nodes.operator[rem] = operator_of(p, nodes.msisdn[rem])
    city = rng.choice(len(CITIES), size=n, p=p.city_weights()).astype(np.int16)
    for c in range(len(CITIES)):
        m = local & (city == c)
        nodes.city[m] = c
        nodes.msisdn[m] = p.new_numbers(rng, p.hcodes(operator=None, jiangsu_city=c), int(m.sum()))
        nodes.operator[m] = operator_of(p, nodes.msisdn[m])
    return nodes


def visitors(rng: np.random.Generator, p: Province) -> Nodes:
    """Other provinces' China Mobile users roaming in for a few days."""
    n = round(p.cfg.world.subscribers * p.cfg.world.visitors_per_subscriber)
    days = p.days
    nodes = blank(n, days)
    nodes.radio[:] = True
    nodes.jiangsu[:] = False
    nodes.city[:] = OTHER_PROVINCE_CITY
    nodes.role[:] = ROLE["visitor"]
    nodes.msisdn[:] = p.new_numbers(rng, p.hcodes(operator=nb.CM, jiangsu_city=None), n)
    nodes.social[:] = _lognormal_mean(
        rng, p.cfg.social.calls_per_day, p.cfg.social.activity_sigma, n
    )
    start = rng.integers(0, days, n)
    nodes.first_day[:] = start
    nodes.last_day[:] = np.minimum(start + rng.integers(1, 7, n), days)
    where = rng.choice(len(CITIES), size=n, p=p.city_weights()).astype(np.int16)
    place(rng, p, nodes, slice(0, n), where, {})
    nodes.imei_a[:] = p.phones(rng, n)
    return nodes


def operator_of(p: Province, numbers: np.ndarray) -> np.ndarray:
    """The operator of each mobile number, from its H-code (meaningless for other numbers)."""
    hcode = (numbers // 10_000) % 10**7
    pos = np.searchsorted(p.segments.hcode, hcode).clip(0, len(p.segments.hcode) - 1)
    return p.segments.operator[pos]


@dataclass
class Roaming:
    """Location updates of our subscribers on foreign networks (the roaming feed's rows)."""

    node: np.ndarray  # int64 index into the node table of the people block
    at: np.ndarray  # int64 seconds from the window start
    country: np.ndarray  # object, ISO 3166 alpha-2
    network: np.ndarray  # object, PLMN id (MCC + MNC)
    event: np.ndarray  # object, attach / detach


def abroad(rng: np.random.Generator, p: Province, people: Nodes) -> Roaming:
    """Some ordinary subscribers travel abroad: off our radio, on a foreign network, in the window.

    While abroad a traveller's calls to our subscribers arrive over the international gateway
    with their own number (if they call home that way at all); calls to them leave our network.
    """
    a = p.cfg.abroad
    days = p.days
    pool = np.flatnonzero(people.role == ROLE["normal"])
    n = min(round(a.share * p.cfg.world.subscribers), len(pool))
    who = np.sort(rng.choice(pool, size=n, replace=False)) if n else np.zeros(0, np.int64)
    length = rng.integers(a.days_min, max(a.days_max, a.days_min) + 1, n)
    first = rng.integers(1 - length, max(days - 1, 1))  # every trip overlaps the window
    leave = first * DAY + rng.integers(7 * 3600, 23 * 3600, n)
    back = leave + length * DAY + rng.integers(-6 * 3600, 6 * 3600, n)
    people.role[who] = ROLE["abroad_traveller"]
    people.abroad_from[who] = leave
    people.abroad_to[who] = back
    people.calls_home[who] = rng.random(n) < a.calls_home_share
    weights = np.array([w for *_, w in VISITED], float)
    net = rng.choice(len(VISITED), size=n, p=weights / weights.sum())
    second = rng.random(n) < a.second_country_share
    net2 = (net + rng.integers(1, len(VISITED), n)) % len(VISITED)
    mid = leave + (back - leave) // 2
    rows: list[tuple[int, int, int, str]] = []
    for i in range(n):
        rows.append((int(who[i]), int(leave[i]), int(net[i]), "attach"))
        if second[i]:
            rows.append((int(who[i]), int(mid[i]), int(net2[i]), "attach"))
        rows.append((int(who[i]), int(back[i]), int(net2[i] if second[i] else net[i]), "detach"))
    rows = [r for r in rows if r[1] < days * DAY]  # nothing after the window's end
    rows.sort(key=lambda r: (r[1], r[0]))
    k = np.array([r[2] for r in rows], dtype=np.int64)
    return Roaming(
        node=np.array([r[0] for r in rows], dtype=np.int64),
        at=np.array([r[1] for r in rows], dtype=np.int64),
        country=np.array([VISITED[j][0] for j in k], dtype=object),
        network=np.array([VISITED[j][1] for j in k], dtype=object),
        event=np.array([r[3] for r in rows], dtype=object),
    )
