"""One simulated day of calls and SMS, drawn for all nodes at once (vectorised numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from telshield.world import numbering as nb
from telshield.world.graph import Contacts, radix_argsort
from telshield.world.nodes import FRAUD_ROLES, PROFILE, PROFILES, ROLE, Nodes
from telshield.world.population import Province, operator_of

DAY = 86_400
RADIO, INTERCONNECT, INTERNATIONAL = 0, 1, 2
INGRESS = ("radio", "interconnect", "international")
LOCAL, INTER_PROVINCE, INTERNATIONAL_ROUTE, INTER_NETWORK = 0, 1, 2, 3
ROUTES = ("local", "inter_province", "international", "inter_network")
SPOOF_INTL = PROFILE["spoof_international"]
SPOOF_INTERCONNECT = PROFILE["spoof_interconnect"]

_H: dict[str, list[float]] = {  # relative call volume by hour of day
    "social": [2, 1, .5, .5, .5, 1, 3, 6, 8, 9, 10, 10, 9, 8, 9, 10, 10, 10, 11, 12, 12, 10, 7, 4],
    "day": [0, 0, 0, 0, 0, 0, 1, 4, 9, 10, 10, 10, 8, 8, 10, 10, 10, 9, 8, 6, 3, 1, 0, 0],
    "work": [0, 0, 0, 0, 0, 0, 0, 1, 6, 10, 10, 9, 4, 6, 10, 10, 10, 8, 2, 0, 0, 0, 0, 0],
    "evening": [2, 1, 0, 0, 0, 0, 1, 2, 3, 4, 4, 5, 5, 5, 5, 6, 7, 8, 10, 12, 12, 10, 8, 4],
    "all": [3, 2, 2, 1, 1, 2, 4, 7, 9, 9, 9, 9, 9, 9, 9, 9, 9, 10, 10, 9, 8, 7, 5, 4],
    "fraud": [0, 0, 0, 0, 0, 0, 0, 1, 6, 10, 10, 10, 8, 9, 10, 10, 10, 9, 7, 5, 3, 1, 0, 0],
}
HOURS = {k: np.array(v, float) / np.sum(v) for k, v in _H.items()}


@dataclass(frozen=True)
class Profile:
    """How one kind of caller treats strangers (arrays indexed by profile number)."""

    answer: np.ndarray
    median: np.ndarray
    sigma: np.ndarray
    long_share: np.ndarray
    long_median: np.ndarray
    callback: np.ndarray
    hours: list[str]
    weekdays_only: np.ndarray
    local: np.ndarray  # share of strangers in the caller's own city
    repeat: np.ndarray  # share of calls to the caller's own pool (a collector's debtors)


_Row = tuple[float, float, float, float, float, float, str, bool, float, float]


def profiles(p: Province) -> Profile:
    """The profile table from the config."""
    c = p.cfg
    rows: dict[str, _Row] = {}
    for name, r in c.roles.work_roles().items():
        rows[name] = (r.answer_rate, r.duration_median_s, r.duration_sigma, 0.0, 1.0,
                      r.callback_rate, r.hours, r.weekdays_only, 0.8, 0.0)
    o, e, rl, w = c.offices, c.enterprise, c.relay, c.offnet_workers
    rows["telemarketing"] = (o.answer_rate, o.telemarketing_duration_median_s, 0.9, 0.0, 1.0,
                             o.callback_rate, "work", True, o.local_share, 0.0)
    rows["collection"] = (o.answer_rate, o.collection_duration_median_s, 0.8, 0.0, 1.0,
                          o.callback_rate, "work", True, o.local_share, o.collection_repeat_share)
    rows["enterprise"] = (e.answer_rate, e.duration_median_s, 0.9, 0.0, 1.0, e.callback_rate,
                          "work", True, 0.8, 0.0)
    rows["relay"] = (rl.answer_rate, rl.duration_median_s, 0.7, 0.0, 1.0, rl.callback_rate,
                     "all", False, 0.85, 0.0)
    rows["iot"] = (0.95, 30.0, 0.5, 0.0, 1.0, 0.0, "all", False, 1.0, 0.0)
    rows["offnet_courier"] = (w.courier_answer_rate, 22.0, 0.6, 0.0, 1.0, w.callback_rate,
                              "day", False, 0.8, 0.0)
    rows["offnet_sales"] = (w.sales_answer_rate, 35.0, 1.0, 0.0, 1.0, w.callback_rate, "work",
                            True, 0.8, 0.0)
    f, d, of, s = c.fraud_sim, c.dens, c.offnet_fraud, c.spoofing
    rows["fraud_sim"] = (f.answer_rate, f.duration_median_s, 0.8, f.long_call_share,
                         f.long_duration_median_s, f.callback_rate, "fraud", False, 0.0, 0.0)
    rows["fraud_sim_office"] = (*rows["fraud_sim"][:6], "work", True, 0.0, 0.0)
    for k in ("goip_den", "audio_cable_den"):  # outbound only: nobody gets through to a port
        rows[k] = (d.answer_rate, d.duration_median_s, 0.8, d.long_call_share,
                   d.long_duration_median_s, 0.0, "fraud", False, 0.0, 0.0)
    rows["offnet_fraud"] = (of.answer_rate, of.duration_median_s, 0.8, of.long_call_share,
                            f.long_duration_median_s, f.callback_rate, "fraud", False, 0.0, 0.0)
    for k in ("spoof_international", "spoof_interconnect"):
        rows[k] = (s.answer_rate, s.duration_median_s, 0.9, f.long_call_share,
                   f.long_duration_median_s, 0.0, "fraud", False, 0.0, 0.0)
    assert tuple(rows) == PROFILES, "profile rows must follow nodes.PROFILES"
    cols = list(zip(*rows.values(), strict=True))
    return Profile(
        answer=np.array(cols[0]), median=np.array(cols[1]), sigma=np.array(cols[2]),
        long_share=np.array(cols[3]), long_median=np.array(cols[4]),
        callback=np.array(cols[5]), hours=list(cols[6]),
        weekdays_only=np.array(cols[7], bool), local=np.array(cols[8]),
        repeat=np.array(cols[9]),
    )


Batch = dict[str, np.ndarray]


def _batch(t: np.ndarray, a: np.ndarray, b: np.ndarray, a_num: np.ndarray, b_num: np.ndarray,
           **extra: np.ndarray) -> Batch:
    n = len(t)
    out: Batch = {
        "t": t.astype(np.int64), "a": a.astype(np.int64), "b": b.astype(np.int64),
        "src": a.astype(np.int64),
        "a_num": a_num, "b_num": b_num,
        "dur": np.zeros(n, np.int32), "fraud": np.zeros(n, bool),
        "scen": np.zeros(n, np.int8), "ingress": np.full(n, -1, np.int8),
        "route": np.full(n, -1, np.int8),
        "a_op": np.full(n, nb.CM, np.int8), "b_op": np.full(n, nb.CM, np.int8),
        "a_js": np.zeros(n, bool), "b_js": np.zeros(n, bool),
    }
    out.update(extra)
    return out


def _cat(batches: list[Batch]) -> Batch:
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


class Day:
    """Draws the calls and messages of one day; keeps per-node first-fraud and victim times."""

    def __init__(self, p: Province, nodes: Nodes, contacts: Contacts, seed: int) -> None:
        self.p, self.nodes, self.contacts = p, nodes, contacts
        self.prof = profiles(p)
        self.seed = seed
        self.start_weekday = p.cfg.start.weekday()
        n = len(nodes)
        self.first_fraud = np.full(n, np.iinfo(np.int64).max, np.int64)
        self.first_victim = np.full(n, np.iinfo(np.int64).max, np.int64)
        not_people = [ROLE[r] for r in (*FRAUD_ROLES, "iot")]  # strangers never dial a modem
        ordinary = nodes.ours & np.isin(nodes.role, not_people, invert=True)
        self.ours_ordinary = np.flatnonzero(ordinary)
        self.offnet_js = np.flatnonzero(~nodes.ours & ~nodes.radio & nodes.jiangsu
                                        & (nodes.social > 0))
        self.by_city = [self._group(self.ours_ordinary, c) for c in range(13)]
        self.off_by_city = [self._group(self.offnet_js, c) for c in range(13)]
        js = p.segments.jiangsu_city < 0
        self.remote_codes = p.segments.hcode[js]
        fraud_roles = [ROLE[r] for r in FRAUD_ROLES]
        self.is_fraud_node = np.isin(nodes.role, fraud_roles) & (
            nodes.profile >= PROFILE["fraud_sim"])  # fraud profiles follow the workers
        self.sociable = (nodes.social > 0) & (contacts.degree(np.arange(n)) > 0)
        circle_rng = np.random.default_rng([seed, 3])
        self.circle = 1 + circle_rng.poisson(p.cfg.social.circle_size - 1, n)
        self._pools(np.random.default_rng([seed, 4]))
        # Interconnect trunks (added later, from a stream of its own): nodes by number, and the
        # carrier a spoofed call presenting each node's number comes in on.
        self.by_number = np.argsort(nodes.msisdn, kind="stable")
        self.entry = self._entries(np.random.default_rng([seed, 51]))

    POOL = 40  # people a collector keeps calling

    def _pools(self, rng: np.random.Generator) -> None:
        """Each caller whose profile repeats (a collection line) gets its own pool of callees."""
        nd = self.nodes
        who = np.flatnonzero((nd.profile >= 0) & (self.prof.repeat[nd.profile] > 0))
        self.pool_row = np.full(len(nd), -1, np.int64)
        self.pool_row[who] = np.arange(len(who))
        a = np.repeat(who, self.POOL)
        node, num = self.strangers(rng, nd.city[a], self.prof.local[nd.profile[a]])
        num = np.where(node >= 0, nd.msisdn[np.maximum(node, 0)], num)
        self.pool_node = node.reshape(len(who), self.POOL)
        self.pool_num = num.reshape(len(who), self.POOL)

    def _entries(self, rng: np.random.Generator) -> np.ndarray:
        """Per presented number (a node), the carrier whose interconnect trunk a spoofed call
        presenting it comes in on: for a mobile, with probability ``entry_matches_share`` the
        carrier serving it (ours: China Mobile), else one of the other three; for a landline or
        a service number any of the four."""
        op = self.nodes.operator.astype(np.int64)
        n = len(op)
        u, other, any_ = rng.random(n), rng.integers(1, 4, n), rng.integers(0, 4, n)
        mobile = (op >= nb.CM) & (op <= nb.CBN)
        share = self.p.cfg.spoofing.entry_matches_share
        return np.where(mobile, np.where(u < share, op, (op + other) % 4), any_).astype(np.int8)

    def node_of(self, numbers: np.ndarray) -> np.ndarray:
        """The node with each number (the first one when several share it), -1 for none."""
        ranked = self.nodes.msisdn[self.by_number]
        if len(ranked) == 0:
            return np.full(len(numbers), -1, np.int64)
        pos = np.searchsorted(ranked, numbers).clip(0, len(ranked) - 1)
        return np.where(ranked[pos] == numbers, self.by_number[pos], -1)

    def _ingress_carrier(self, raw: Batch) -> np.ndarray:
        """The carrier whose trunk handed each interconnect call over (-1 for other ingress):
        an honest caller's serving carrier (a ported number's too; other provinces' China
        Mobile subscribers come on China Mobile's inter-province trunks), a spoofed call's
        entry carrier for its presented number."""
        nd = self.nodes
        a, num, src = raw["a"], raw["a_num"], raw["src"]
        ic = raw["ingress"] == INTERCONNECT
        spoofed = ic & (src >= 0) & (nd.profile[np.maximum(src, 0)] == SPOOF_INTERCONNECT)
        honest = ic & ~spoofed
        # A caller known by number only (a stranger from another province, a handler calling
        # back): the node with that number if there is one, else the number's segment.
        node = np.where(a >= 0, a, -1)
        by_num = honest & (a < 0)
        node[by_num] = self.node_of(num[by_num])
        serving = np.where(node >= 0, nd.operator[np.maximum(node, 0)], raw["a_op"])
        # A fixed line (no such honest caller so far) comes on China Telecom's trunk, Jiangsu's
        # fixed-line incumbent.
        fixed = (num // 10**11 != 86) | ((num // 10**10) % 10 != 1)
        serving = np.where(fixed, nb.CT, serving)
        out = np.where(honest, serving, -1).astype(np.int8)
        assert ((out[honest] >= nb.CM) & (out[honest] <= nb.CBN)).all(), "no carrier"
        shown = self.node_of(num[spoofed])
        assert (shown >= 0).all(), "a spoofed call presents a number no node has"
        out[spoofed] = self.entry[shown]
        return out

    def _group(self, idx: np.ndarray, city: int) -> np.ndarray:
        g = idx[self.nodes.city[idx] == city]
        return g if len(g) else idx

    # -- places and phones -------------------------------------------------------------------

    def locate(self, rng: np.random.Generator, who: np.ndarray, t: np.ndarray, day: int
               ) -> np.ndarray:
        """The cell each node is in at time ``t`` (nodes must be on our radio)."""
        nd = self.nodes
        h = (t // 3600) % 24
        weekday = (self.start_weekday + day) % 7 < 5
        work = weekday & (h >= 9) & (h < 18)
        night = (h < 7) | (h >= 22)
        p_office = np.where(work, 0.7, 0.05)
        p_home = np.where(night, 0.95, np.where(work, 0.1, 0.6))
        r = rng.random(len(who))
        k = (rng.random(len(who)) * np.maximum(nd.n_extra[who], 1)).astype(np.int64)
        extra = nd.extra[who, k]
        office = np.where(nd.roams[who], extra, nd.office[who])
        cell = np.where(r < p_office, office, np.where(r < p_office + p_home, nd.home[who], extra))
        trip = (nd.trip_from[who] <= day) & (day < nd.trip_to[who])
        if trip.any():
            pick = nd.trip_cells[who[trip], rng.integers(0, 2, int(trip.sum()))]
            cell[trip] = pick
        return np.where(cell < 0, nd.home[who], cell).astype(np.int32)

    def strangers(self, rng: np.random.Generator, city: np.ndarray, local: np.ndarray,
                  ours_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Random people to call (node index, or -1 with a number from another province)."""
        n = len(city)
        u = rng.random(n)
        is_local = rng.random(n) < local
        node = np.full(n, -1, np.int64)
        num = np.zeros(n, np.int64)
        kind = np.where(ours_only, 0, np.where(u < 0.62, 0, np.where(u < 0.88, 1, 2)))
        for k, pools, everyone in ((0, self.by_city, self.ours_ordinary),
                                   (1, self.off_by_city, self.offnet_js)):
            m = kind == k
            wide = m & ~is_local
            node[wide] = everyone[rng.integers(0, len(everyone), int(wide.sum()))]
            for c in np.unique(city[m & is_local]):
                mc = m & is_local & (city == c)
                pool = pools[int(c)] if 0 <= c < 13 else everyone
                node[mc] = pool[rng.integers(0, len(pool), int(mc.sum()))]
        remote = kind == 2
        num[remote] = nb.mobile_numbers(rng, self.remote_codes, int(remote.sum()))
        return node, num

    # -- drawing calls -----------------------------------------------------------------------

    def _times(self, rng: np.random.Generator, day: int, hours: list[str], idx: np.ndarray
               ) -> np.ndarray:
        t = np.zeros(len(idx), np.int64)
        names = np.array(hours, dtype=object)[idx] if len(idx) else np.zeros(0, object)
        for name in sorted(set(names.tolist())):
            m = names == name
            h = rng.choice(24, size=int(m.sum()), p=HOURS[name])
            t[m] = day * DAY + h * 3600 + rng.integers(0, 3600, int(m.sum()))
        return t

    def _durations(self, rng: np.random.Generator, answer: np.ndarray, median: np.ndarray,
                   sigma: np.ndarray, long_share: np.ndarray, long_median: np.ndarray
                   ) -> np.ndarray:
        n = len(answer)
        long = rng.random(n) < long_share
        d = np.where(long, long_median * np.exp(rng.normal(0, 0.5, n)),
                     median * np.exp(rng.normal(0, 1, n) * sigma))
        d = np.clip(np.round(d), 1, 4 * 3600)
        return np.where(rng.random(n) < answer, d, 0).astype(np.int32)

    def _present(self, who: np.ndarray, day: int) -> np.ndarray:
        nd = self.nodes
        w = np.maximum(who, 0)
        return (who < 0) | ((nd.first_day[w] <= day) & (day < nd.last_day[w]))

    def social(self, rng: np.random.Generator, day: int, rate_of: np.ndarray) -> Batch:
        """Calls (or messages) to contacts, the closest ones most often."""
        who = np.flatnonzero(self.sociable & self._present(np.arange(len(self.nodes)), day))
        weekend = (self.start_weekday + day) % 7 >= 5
        n = rng.poisson(rate_of[who] * (0.85 if weekend else 1.0))
        a = np.repeat(who, n)
        s = self.p.cfg.social
        b = self.contacts.pick(rng, a, self.circle[a], s.concentration, s.outside_circle)
        b = b.astype(np.int64)
        t = day * DAY + rng.choice(24, size=len(a), p=HOURS["social"]) * 3600
        t = t + rng.integers(0, 3600, len(a))
        out = _batch(t, a, b, self.nodes.msisdn[a], self.nodes.msisdn[b])
        ones = np.ones(len(a))
        out["dur"] = self._durations(rng, s.answer_rate * ones, s.duration_median_s * ones,
                                     s.duration_sigma * ones, 0 * ones, ones)
        return out

    def work(self, rng: np.random.Generator, day: int, rate_of: np.ndarray, sms: bool = False,
             rng2: np.random.Generator | None = None) -> Batch:
        """Calls (or messages) from workers and fraudsters to strangers, with callbacks."""
        nd, pr = self.nodes, self.prof
        who = np.flatnonzero((rate_of > 0) & self._present(np.arange(len(nd)), day))
        weekend = (self.start_weekday + day) % 7 >= 5
        prof = nd.profile[who]
        factor = np.where(weekend & pr.weekdays_only[prof], 0.1, 1.0)
        a = np.repeat(who, rng.poisson(rate_of[who] * factor))
        pa_ = nd.profile[a]
        spoof = pa_ >= SPOOF_INTL  # the two spoofing profiles come last
        b, b_num = self.strangers(rng, nd.city[a], pr.local[pa_], ours_only=False)
        if spoof.any():
            sb, sn = self.strangers(rng, nd.city[a[spoof]], pr.local[pa_[spoof]], ours_only=True)
            b[spoof], b_num[spoof] = sb, sn
        again = pr.repeat[pa_] > 0
        if again.any() and rng2 is not None:  # a collector calls the same debtors again
            idx = np.flatnonzero(again)
            idx = idx[rng2.random(len(idx)) < pr.repeat[pa_[idx]]]
            row, col = self.pool_row[a[idx]], rng2.integers(0, self.POOL, len(idx))
            b[idx], b_num[idx] = self.pool_node[row, col], self.pool_num[row, col]
        b_num = np.where(b >= 0, nd.msisdn[np.maximum(b, 0)], b_num)
        t = self._times(rng, day, pr.hours, pa_)
        out = _batch(t, a, b, nd.msisdn[a].copy(), b_num)
        fraud = self.is_fraud_node[a]
        out["fraud"] = fraud
        out["scen"] = nd.scenario[a]
        if spoof.any():
            intl = pa_ == SPOOF_INTL
            out["ingress"] = np.where(spoof, np.where(intl, INTERNATIONAL, INTERCONNECT), -1
                                      ).astype(np.int8)
            out["route"] = np.where(spoof, np.where(intl, INTERNATIONAL_ROUTE, INTER_NETWORK), -1
                                    ).astype(np.int8)
            out["a"] = np.where(spoof, -1, a)  # presented numbers are not where calls come from
            real = spoof & (rng.random(len(a)) < self.p.cfg.spoofing.real_subscriber_share)
            real &= nd.operator[a] >= 0
            pick = self.ours_ordinary[rng.integers(0, len(self.ours_ordinary), int(real.sum()))]
            out["a_num"][real] = nd.msisdn[pick]
        if sms:
            return out
        out["dur"] = self._durations(rng, pr.answer[pa_], pr.median[pa_], pr.sigma[pa_],
                                     pr.long_share[pa_], pr.long_median[pa_])
        # Unanswered calls are often tried again a little later (fraudsters keep at a victim).
        again = (out["dur"] == 0) & (rng.random(len(a)) < np.where(out["fraud"], 0.3, 0.2))
        redial = {k: v[again] for k, v in out.items()}
        redial["t"] = redial["t"] + rng.integers(60, 3600, int(again.sum()))
        redial["dur"] = self._durations(rng, pr.answer[pa_[again]], pr.median[pa_[again]],
                                        pr.sigma[pa_[again]], pr.long_share[pa_[again]],
                                        pr.long_median[pa_[again]])
        relay = self._relay_legs(rng, day, out, spoof)
        back = (out["dur"] > 0) & (rng.random(len(a)) < pr.callback[pa_]) & ~spoof
        cb = _batch(out["t"][back] + rng.exponential(7200, int(back.sum())).astype(np.int64),
                    b[back], a[back], b_num[back], nd.msisdn[a[back]])
        cb["scen"] = out["scen"][back]
        ones = np.ones(int(back.sum()))
        s = self.p.cfg.social
        cb["dur"] = self._durations(rng, 0.9 * ones, s.duration_median_s * ones, ones, 0 * ones,
                                    ones)
        return _cat([out, redial, cb, relay])

    def _relay_legs(self, rng: np.random.Generator, day: int, out: Batch, spoof: np.ndarray
                    ) -> Batch:
        """Audio-cable dens: each answered call is bridged to a call from abroad to the relay."""
        nd = self.nodes
        src = np.maximum(out["a"], 0)
        m = (out["dur"] > 0) & (nd.partner[src] >= 0) & (out["a"] >= 0) & ~spoof
        k = int(m.sum())
        relay = nd.partner[src[m]]
        t = np.maximum(out["t"][m] - rng.integers(5, 30, k), day * DAY)
        leg = _batch(t, np.full(k, -1), relay, nb.foreign_numbers(rng, k), nd.msisdn[relay])
        leg["dur"] = (out["dur"][m] + rng.integers(10, 40, k)).astype(np.int32)
        leg["fraud"][:] = True
        leg["scen"] = out["scen"][m]
        leg["ingress"][:] = INTERNATIONAL
        leg["route"][:] = INTERNATIONAL_ROUTE
        return leg

    def incoming(self, rng: np.random.Generator, day: int) -> Batch:
        """Strangers calling workers: customers of shops, couriers, taxis, service lines."""
        nd, pr = self.nodes, self.prof
        who = np.flatnonzero((nd.incoming > 0) & self._present(np.arange(len(nd)), day))
        b = np.repeat(who, rng.poisson(nd.incoming[who]))
        pb = nd.profile[b]
        a, a_num = self.strangers(rng, nd.city[b], pr.local[pb])
        a_num = np.where(a >= 0, nd.msisdn[np.maximum(a, 0)], a_num)
        out = _batch(self._times(rng, day, pr.hours, pb), a, b, a_num, nd.msisdn[b])
        out["dur"] = self._durations(rng, 0.95 * np.ones(len(b)), pr.median[pb], pr.sigma[pb],
                                     0 * pr.long_share[pb], pr.long_median[pb])
        return out

    def peers(self, rng: np.random.Generator, day: int, sms: bool = False) -> Batch:
        """Calls (both ways) or messages with a fixed counterpart: a crew's handler (cover
        traffic), an IoT line's platform."""
        nd, pr = self.nodes, self.prof
        rate = nd.peer_sms if sms else nd.peer_calls
        who = np.flatnonzero((rate > 0) & (nd.peer >= 0) & self._present(np.arange(len(nd)), day))
        node = np.repeat(who, rng.poisson(rate[who]))
        inbound = np.zeros(len(node), bool) if sms else rng.random(len(node)) < nd.peer_in[node]
        peer = nd.peer[node]
        a = np.where(inbound, -1, node)
        b = np.where(inbound, node, -1)
        a_num = np.where(inbound, peer, nd.msisdn[node])
        b_num = np.where(inbound, nd.msisdn[node], peer)
        out = _batch(self._times(rng, day, pr.hours, nd.profile[node]), a, b, a_num, b_num)
        out["fraud"] = self.is_fraud_node[node] & ~inbound
        out["scen"] = nd.scenario[node]
        foreign = ~nb.is_domestic(peer)
        out["ingress"] = np.where(inbound & foreign, INTERNATIONAL, -1).astype(np.int8)
        out["route"] = np.where(foreign, INTERNATIONAL_ROUTE, -1).astype(np.int8)
        if not sms:
            s = self.p.cfg.social
            ones = np.ones(len(node))
            out["dur"] = self._durations(rng, 0.9 * ones, s.duration_median_s * ones,
                                         s.duration_sigma * ones, 0 * ones, ones)
        return out

    # -- finishing: who carries it, where, through which door --------------------------------

    def finish(self, rng: np.random.Generator, day: int, raw: Batch) -> Batch:
        """Drop calls our network never sees; fill ingress, cells, IMEIs and the route."""
        nd = self.nodes
        a, b = raw["a"], raw["b"]
        keep = self._present(a, day) & self._present(b, day) & (raw["t"] < (day + 1) * DAY)
        a_away, b_away = self._abroad(a, raw["t"]), self._abroad(b, raw["t"])
        # Abroad, some call home with their own number; the rest use an app (no call here).
        keep &= ~a_away | nd.calls_home[np.maximum(a, 0)]
        a_on = (a >= 0) & nd.radio[np.maximum(a, 0)] & ~a_away
        b_on = (b >= 0) & nd.radio[np.maximum(b, 0)] & ~b_away
        keep &= (a_on | b_on) & (raw["a_num"] != raw["b_num"])  # nobody calls themselves
        raw = {k: v[keep] for k, v in raw.items()}
        a, b, a_on, b_on = raw["a"], raw["b"], a_on[keep], b_on[keep]
        a_away, b_away = a_away[keep], b_away[keep]
        raw["ingress"] = np.where(a_away, INTERNATIONAL, raw["ingress"]).astype(np.int8)
        raw["route"] = np.where(a_away | b_away, INTERNATIONAL_ROUTE, raw["route"]).astype(np.int8)
        aw, bw = np.maximum(a, 0), np.maximum(b, 0)
        raw["a_op"] = np.where(a >= 0, nd.operator[aw], operator_of(self.p, raw["a_num"]))
        raw["b_op"] = np.where(b >= 0, nd.operator[bw], operator_of(self.p, raw["b_num"]))
        raw["a_js"] = np.where(a >= 0, nd.jiangsu[aw], False)
        raw["b_js"] = np.where(b >= 0, nd.jiangsu[bw], False)
        a_foreign = (a >= 0) & (nd.operator[aw] == nb.FOREIGN)
        b_foreign = (b >= 0) & (nd.operator[bw] == nb.FOREIGN)
        ingress = np.where(a_on, RADIO, np.where(a_foreign, INTERNATIONAL, INTERCONNECT))
        raw["ingress"] = np.where(raw["ingress"] >= 0, raw["ingress"], ingress).astype(np.int8)
        route = np.where(
            (raw["ingress"] == INTERNATIONAL) | b_foreign, INTERNATIONAL_ROUTE,
            np.where((raw["a_op"] != nb.CM) | (raw["b_op"] != nb.CM), INTER_NETWORK,
                     np.where(raw["a_js"] & raw["b_js"], LOCAL, INTER_PROVINCE)))
        raw["route"] = np.where(raw["route"] >= 0, raw["route"], route).astype(np.int8)
        raw["carrier"] = self._ingress_carrier(raw)
        t = raw["t"]
        raw["a_cell"] = np.full(len(t), -1, np.int32)
        raw["a_cell"][a_on] = self.locate(rng, a[a_on], t[a_on], day)
        raw["b_cell"] = np.full(len(t), -1, np.int32)
        raw["b_cell"][b_on] = self.locate(rng, b[b_on], t[b_on], day)
        imei = np.where(day >= nd.switch_day[aw], nd.imei_b[aw], nd.imei_a[aw])
        raw["imei"] = np.where(a_on, imei, -1)
        order = radix_argsort(t - day * DAY)
        return {k: v[order] for k, v in raw.items()}

    def _abroad(self, who: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Whether each node is on a foreign network at time ``t`` (False for -1)."""
        nd = self.nodes
        w = np.maximum(who, 0)
        return (who >= 0) & (t >= nd.abroad_from[w]) & (t < nd.abroad_to[w])

    def calls(self, day: int) -> Batch:
        """All calls of ``day``, sorted by time."""
        rng = np.random.default_rng([self.seed, day, 1])
        rng2 = np.random.default_rng([self.seed, day, 11])  # behaviours added later
        nd = self.nodes
        raw = _cat([self.social(rng, day, nd.social), self.work(rng, day, nd.work, rng2=rng2),
                    self.incoming(rng, day), self.peers(rng2, day)])
        out = self.finish(rng, day, raw)
        f = out["fraud"] & (out["src"] >= 0)
        np.minimum.at(self.first_fraud, out["src"][f], out["t"][f])
        v = f & (out["dur"] >= 180)
        np.minimum.at(self.first_victim, out["src"][v], out["t"][v])
        return out

    def messages(self, day: int) -> Batch:
        """All SMS of ``day``, sorted by time."""
        rng = np.random.default_rng([self.seed, day, 2])
        nd = self.nodes
        sms_social = self.p.cfg.social.sms_per_day * nd.social / max(
            self.p.cfg.social.calls_per_day, 1e-9)
        rng2 = np.random.default_rng([self.seed, day, 12])
        raw = _cat([self.social(rng, day, sms_social),
                    self.work(rng, day, nd.sms, sms=True, rng2=rng2),
                    self.peers(rng2, day, sms=True)])
        return self.finish(rng, day, raw)
