"""SIM applications (the ``registrations`` feed): every card registered in the window, applied
for minutes before it was activated, and the applications that never became a card.

Those are what the old process refused or nobody finished: sanctioned persons trying at a store
(``trafficking.sanctions``), gang openers at the per-operator limit trying for one more card,
people giving up at a store, and e-channel orders abandoned before a number was issued (the
``orders`` feed's orders without a number). A share of a gang's store cards is opened by its
colluding staff without the opener, who came for the first card only: the video statement of
those is an earlier card's replayed, or none.

Randomness comes from a stream of its own, and numbers are drawn after every other feed is
written, so adding applications changes no other feed of a province.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa

from telshield.world import numbering as nb
from telshield.world.config import WorldConfig
from telshield.world.devices import id_hashes
from telshield.world.nodes import ROLE, Nodes
from telshield.world.population import Province
from telshield.world.registry import Channels, Sims
from telshield.world.tables import TRUTH_SCHEMAS, prefixed, table, times
from telshield.world.transcripts import recognise, render, said_text, statement_kinds
from telshield.world.truth import gang_id

DAY = 86_400
KINDS = ("honest", "gang_mule", "colluding_staff", "sanctioned", "fraud_opener")


@dataclass
class _Rows:
    """Application columns, one entry per application (numpy object/int arrays)."""

    at: np.ndarray  # int64 seconds from window start
    person: np.ndarray  # identity label, or an id_hash already (``hashed``)
    hashed: np.ndarray  # bool: ``person`` is already the id_hash
    holder: np.ndarray
    channel: np.ndarray
    staff: np.ndarray
    terminal: np.ndarray
    msisdn: np.ndarray  # int64
    order: np.ndarray
    outcome: np.ndarray
    kind: np.ndarray
    gang: np.ndarray  # int, -1 = none
    city: np.ndarray  # int, -1 = unknown

    @staticmethod
    def cat(parts: list[_Rows]) -> _Rows:
        """Stack row sets."""
        names = _Rows.__dataclass_fields__
        return _Rows(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names})


def _fill(n: int, value: object) -> np.ndarray:
    return np.full(n, value, dtype=object)


def _issued(rng: np.random.Generator, cfg: WorldConfig, nodes: Nodes, sims: Sims,
            order: np.ndarray, order_ids: np.ndarray) -> _Rows:
    """One application per SIM registered in the window, minutes before its activation."""
    in_window = sims.reg_s[order] >= 0
    k = order[in_window]
    node = sims.node[k]
    role, gang = nodes.role[node], nodes.gang[node].astype(np.int64)
    kind = np.full(len(k), "honest", dtype=object)
    kind[role == ROLE["sanctioned"]] = "sanctioned"
    kind[np.isin(role, [ROLE["fraud_sim"], ROLE["den_sim"]])] = "fraud_opener"
    kind[gang >= 0] = "gang_mule"
    # A gang card at a store after the opener's first card: the colluding staff may open it
    # with the opener's ID alone.
    labels = sims.person[order].astype(str)
    names, firsts = np.unique(labels, return_index=True)  # ``order`` is by time: first card
    first_reg = sims.reg_s[order][firsts]
    later = sims.reg_s[k] > first_reg[np.searchsorted(names, labels[in_window])]
    store = np.array([t is not None for t in sims.terminal_id[k]], dtype=bool)
    alone = (gang >= 0) & store & later & (rng.random(len(k)) < cfg.registrations.staff_alone_share)
    kind[alone] = "colluding_staff"
    return _Rows(
        at=sims.reg_s[k] - rng.integers(120, 1200, len(k)), person=sims.person[k],
        hashed=np.zeros(len(k), bool), holder=sims.holder[k], channel=sims.channel_id[k],
        staff=sims.staff_id[k], terminal=sims.terminal_id[k],
        msisdn=nodes.msisdn[node].astype(np.int64), order=order_ids[in_window],
        outcome=_fill(len(k), "issued"), kind=kind, gang=gang, city=nodes.city[node].astype(int))


def _store(rng: np.random.Generator, channels: Channels, city: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A store of each city, one of its staff IDs and one of its terminals."""
    ch = np.zeros(len(city), np.int64)
    for c in np.unique(city):
        m = city == c
        pool = np.flatnonzero(channels.city == c)
        ch[m] = pool[rng.integers(0, len(pool), int(m.sum()))]
    staff = (rng.random(len(city)) * channels.n_staff[ch]).astype(int) + 1
    term = (rng.random(len(city)) * channels.n_terminals[ch]).astype(int) + 1
    return channels.channel_id[ch].copy(), channels.staff_id(ch, staff), \
        channels.terminal_id(ch, term)


def _daytime(rng: np.random.Generator, days: int, n: int) -> np.ndarray:
    """Moments in shop hours on days of the window."""
    return rng.integers(0, days, n) * DAY + rng.integers(9 * 3600, 20 * 3600, n)


def _sanctioned_tries(rng: np.random.Generator, p: Province, channels: Channels,
                      sanctions: list[dict[str, object]]) -> _Rows:
    """Sanctioned persons without a new SIM trying at a store, refused by the old process."""
    days = p.cfg.world.days
    live = [r for r in sanctions if int(str(r["node"])) < 0
            and int(str(r["starts"])) < days * DAY and int(str(r["ends"])) > 0]
    trying = [r for r in live if rng.random() < p.cfg.registrations.sanctioned_try_share]
    person = np.array([r["person"] for r in trying for _ in range(int(rng.integers(1, 3)))],
                      dtype=object)
    n = len(person)
    city = rng.choice(len(p.city_weights()), size=n, p=p.city_weights())
    ch, staff, term = _store(rng, channels, city)
    return _Rows(at=_daytime(rng, days, n), person=person, hashed=np.zeros(n, bool),
                 holder=_fill(n, "individual"), channel=ch, staff=staff, terminal=term,
                 msisdn=np.zeros(n, np.int64), order=_fill(n, None), outcome=_fill(n, "refused"),
                 kind=_fill(n, "sanctioned"), gang=np.full(n, -1), city=city.astype(int))


def _over_limit(rng: np.random.Generator, p: Province, issued: _Rows, sims: Sims) -> _Rows:
    """Gang openers at the per-operator limit trying once more where they opened their last
    card, hours later; the old process refused them (the national one-ID check)."""
    limit = p.cfg.gangs.cards_per_opener_max
    persons, counts = np.unique(sims.person.astype(str), return_counts=True)
    full = set(persons[counts >= limit].tolist())
    last: dict[str, int] = {}
    for i in np.flatnonzero(issued.gang >= 0):
        if issued.person[i] in full:
            last[str(issued.person[i])] = int(i)  # rows are in time order: the last wins
    rows = [i for i in last.values() if rng.random() < p.cfg.registrations.mule_over_limit_share]
    idx = np.array(rows, dtype=np.int64)
    n = len(idx)
    at = np.minimum(issued.at[idx] + rng.integers(3600, 2 * DAY, n), p.cfg.world.days * DAY - 60)
    return _Rows(at=at, person=issued.person[idx], hashed=np.zeros(n, bool),
                 holder=issued.holder[idx], channel=issued.channel[idx],
                 staff=issued.staff[idx], terminal=issued.terminal[idx],
                 msisdn=np.zeros(n, np.int64), order=_fill(n, None),
                 outcome=_fill(n, "refused"), kind=_fill(n, "gang_mule"),
                 gang=issued.gang[idx], city=issued.city[idx])


def _abandoned(rng: np.random.Generator, p: Province, nodes: Nodes, sims: Sims,
               issued: _Rows, orders: pa.Table, start: datetime) -> _Rows:
    """People giving up at a store, and e-channel orders never completed."""
    days = p.cfg.world.days
    n_store = int(rng.binomial(len(issued.at), p.cfg.registrations.abandon_share))
    honest = np.flatnonzero((nodes.role[sims.node] == ROLE["normal"])
                            & np.array([t is not None for t in sims.terminal_id], dtype=bool))
    k = honest[rng.integers(0, len(honest), n_store)] if len(honest) else np.zeros(0, np.int64)
    n = len(k)
    store = _Rows(at=_daytime(rng, days, n), person=sims.person[k], hashed=np.zeros(n, bool),
                  holder=_fill(n, "individual"), channel=sims.channel_id[k],
                  staff=sims.staff_id[k], terminal=sims.terminal_id[k],
                  msisdn=np.zeros(n, np.int64), order=_fill(n, None),
                  outcome=_fill(n, "abandoned"), kind=_fill(n, "honest"), gang=np.full(n, -1),
                  city=nodes.city[sims.node[k]].astype(int))
    # The orders feed's orders without a number, placed in the window.
    def col(name: str) -> np.ndarray:
        return orders.column(name).to_numpy(zero_copy_only=False)

    created = (col("created_at").astype("datetime64[s]") - np.datetime64(start, "s")
               ).astype(np.int64)
    no_number = orders.column("msisdn").is_null().to_numpy(zero_copy_only=False)
    m = no_number & (created >= 0) & (created < days * DAY - 1800)
    j = np.flatnonzero(m)
    n = len(j)
    chan = np.array([f"EC-{str(c).upper()}" for c in col("channel")[j]], dtype=object)
    online = _Rows(at=created[j] + rng.integers(60, 1800, n),
                   person=col("id_hash")[j].astype(object), hashed=np.ones(n, bool),
                   holder=_fill(n, "individual"), channel=chan, staff=_fill(n, "ST-EC-AUTO"),
                   terminal=_fill(n, None), msisdn=np.zeros(n, np.int64),
                   order=col("order_id")[j].astype(object),
                   outcome=_fill(n, "abandoned"), kind=_fill(n, "honest"), gang=np.full(n, -1),
                   city=np.full(n, -1))
    return _Rows.cat([store, online])


def _numbers(rng: np.random.Generator, p: Province, rows: _Rows) -> None:
    """New numbers of ours (in the applicant's city) for applications that got no card."""
    need = rows.msisdn == 0
    city = np.where(rows.city < 0, rng.choice(len(p.city_weights()), size=len(rows.city),
                                              p=p.city_weights()), rows.city)
    for c in np.unique(city[need]):
        m = need & (city == c)
        rows.msisdn[m] = p.new_numbers(rng, p.hcodes(operator=nb.CM, jiangsu_city=int(c)),
                                       int(m.sum()))


def _statements(rng: np.random.Generator, cfg: WorldConfig, rows: _Rows
                ) -> tuple[list[str | None], np.ndarray, list[str | None], list[str]]:
    """Transcripts, statement kinds, said texts and error tags, in row (time) order."""
    r = cfg.registrations
    n = len(rows.at)
    share = np.select([rows.kind == "gang_mule", rows.kind == "colluding_staff"],
                      [r.mule_mismatch_share, r.staff_alone_mismatch_share], r.mismatch_share)
    mismatch = rng.random(n) < share
    kinds = statement_kinds(rng, mismatch, r)
    # Staff alone: an earlier card's statement replayed, or none.
    staff = (rows.kind == "colluding_staff") & mismatch
    kinds[staff] = np.where(rng.random(int(staff.sum())) < r.staff_alone_replay_share,
                            "wrong_digits", "silence")
    last4 = [str(m)[-4:] for m in rows.msisdn]
    got = render(rng, last4, list(kinds), r)
    transcript: list[str | None] = list(got.transcript)
    said: list[str | None] = list(got.said)
    errors = list(got.errors)
    earlier: dict[str, int] = {}
    for i in range(n):
        who = str(rows.person[i])
        if staff[i] and kinds[i] == "wrong_digits":
            j = earlier.get(who)
            if j is not None and kinds[j] == "honest":  # the opener's own earlier video
                transcript[i], said[i], errors[i] = transcript[j], said[j], errors[j]
            else:  # an older recording, for a card before the window
                said[i] = said_text(rng, "wrong_digits", last4[i])
                transcript[i], errors[i] = recognise(rng, str(said[i]), r)
        earlier[who] = i
    iot = rows.holder == "iot"  # machine cards: no video statement
    kinds[iot] = "none"
    for k in np.flatnonzero(iot):
        transcript[k], said[k], errors[k] = None, None, ""
    return transcript, kinds, said, errors


def applications(rng: np.random.Generator, p: Province, start: datetime, nodes: Nodes,
                 sims: Sims, order: np.ndarray, order_ids: np.ndarray, orders: pa.Table,
                 channels: Channels, sanctions: list[dict[str, object]], key: bytes
                 ) -> tuple[pa.Table, pa.Table]:
    """The registrations feed and its truth table (identities hashed under ``key``).

    ``order`` sorts ``sims`` as the subscribers feed is written, ``order_ids`` the order id of
    each subscribers row (None: a store).
    """
    issued = _issued(rng, p.cfg, nodes, sims, order, order_ids)
    rows = _Rows.cat([issued, _sanctioned_tries(rng, p, channels, sanctions),
                      _over_limit(rng, p, issued, sims),
                      _abandoned(rng, p, nodes, sims, issued, orders, start)])
    rows.at = np.maximum(rows.at, 0)
    _numbers(rng, p, rows)
    by_time = np.lexsort((rows.msisdn, rows.at))
    rows = _Rows(**{k: getattr(rows, k)[by_time] for k in _Rows.__dataclass_fields__})
    transcript, kinds, said, errors = _statements(rng, p.cfg, rows)
    ids = prefixed("A", np.arange(len(rows.at)))
    hashes = np.array(rows.person, dtype=object)
    plain = ~rows.hashed
    if plain.any():
        hashes[plain] = id_hashes(rows.person[plain], key)
    feed = table("registrations", {
        "attempt_id": ids, "applied_at": times(start, rows.at), "id_hash": hashes,
        "holder_kind": rows.holder, "channel_id": rows.channel, "staff_id": rows.staff,
        "terminal_id": rows.terminal,
        "requested_msisdn": pa.array([str(m) for m in rows.msisdn], pa.string()),
        "order_id": rows.order, "transcript": transcript, "outcome": rows.outcome,
    })
    truth = table("registrations", {
        "attempt_id": ids, "kind": rows.kind,
        "gang_id": [gang_id(int(g)) if g >= 0 else None for g in rows.gang],
        "statement": kinds, "said": said, "errors": errors,
    }, TRUTH_SCHEMAS)
    return feed, truth


def retakes(rng: np.random.Generator, cfg: WorldConfig, feed: pa.Table, truth: pa.Table
            ) -> pa.Table:
    """The second recording of every application's video statement (the retake a check may
    ask for), from ``applications``' feed and truth: the same applicant recorded again.
    Honest applicants read their real statement again, through the recogniser with fresh
    errors; everyone else reads what they read before (a mule another card's tail, the other
    text, the same part), again through the recogniser, and silence stays silent. A clerk
    alone replays the recording sent the first time: the same transcript. IoT cards have none.
    ``rng`` is a stream of its own, drawn after everything else, so the ``registrations`` feed
    and its truth are the same with or without retakes."""
    out: list[str | None] = []
    errors: list[str] = []
    replayed: list[bool] = []
    for kind, statement, said, transcript in zip(
            truth["kind"].to_pylist(), truth["statement"].to_pylist(),
            truth["said"].to_pylist(), feed["transcript"].to_pylist(), strict=True):
        replay = kind == "colluding_staff" and statement not in ("honest", "none")
        replayed.append(replay)
        if said is None:  # IoT: no statement
            out.append(None)
            errors.append("")
        elif replay:
            out.append(transcript)
            errors.append("replayed")
        else:
            t, e = recognise(rng, str(said), cfg.registrations)
            out.append(t)
            errors.append(e)
    return table("registration_retakes", {
        "attempt_id": truth["attempt_id"].to_pylist(), "retake_transcript": out,
        "errors": errors, "replayed": replayed}, TRUTH_SCHEMAS)
