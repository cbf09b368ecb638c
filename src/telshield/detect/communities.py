"""Communities of the registration graph (Leiden on igraph) and each one's evidence.

Works on the edge list ``detect.gangs.registration_links`` returns, once executed, and on the
cards it links: plain in-memory data, no engine. Leiden (not Louvain) because it guarantees
connected communities; modularity because it never merges cards that share nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from telshield.domain.gangs import (
    CROSS_KINDS,
    STRONG_KINDS,
    GangLink,
    GangMember,
    LinkKind,
    Signals,
)

SEED = 7  # Leiden is randomised: a fixed seed gives the same communities on the same data


@dataclass(frozen=True)
class Card:
    """A registered card as the subscribers feed shows it."""

    msisdn: str
    id_hash: str
    channel_id: str
    staff_id: str
    registered_at: datetime
    by_order: bool  # opened through an e-channel order (no staff at a counter)


@dataclass(frozen=True)
class Community:
    """A community's cards, the links among them and its signals."""

    members: tuple[GangMember, ...]
    links: tuple[GangLink, ...]
    signals: Signals


def communities(links: Sequence[GangLink], *, seed: int = SEED) -> list[list[str]]:
    """The cards of each Leiden community of the weighted graph, largest first."""
    import igraph as ig
    import leidenalg

    if not links:
        return []
    names = sorted({x for link in links for x in (link.a, link.b)})
    index = {n: i for i, n in enumerate(names)}
    g = ig.Graph(n=len(names), edges=[(index[x.a], index[x.b]) for x in links])
    g.es["weight"] = [x.weight for x in links]
    part = leidenalg.find_partition(g, leidenalg.ModularityVertexPartition, weights="weight",
                                    seed=seed)
    out = [[names[i] for i in c] for c in part if len(c) > 1]
    return sorted(out, key=lambda c: (-len(c), c[0]))


def _components(names: Iterable[str], links: Iterable[GangLink]) -> list[set[str]]:
    parent = {n: n for n in names}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for x in links:
        parent[root(x.a)] = root(x.b)
    groups: dict[str, set[str]] = defaultdict(set)
    for n in parent:
        groups[root(n)].add(n)
    return sorted(groups.values(), key=lambda g: (-len(g), min(g)))


def core(names: Iterable[str], links: Sequence[GangLink]) -> set[str]:
    """The cards of a community that belong to its gang, if it is one.

    Leiden puts a card where most of its weight goes, so an honest customer whom a colluding
    staff ID served on a gang's busy day, or a card that went into a den's phone after a gang
    card, joins the gang's community through that one weak link. Membership needs more: the
    card must be tied by a *strong* link (the same ID within days, or an e-channel order's
    address, contact, device or IP) into the largest strongly tied group of the community, or
    belong to another strongly tied group of cards (an opener's cards opened at a counter) that
    shares a staff ID's or terminal's burst with a group already kept. Weak links alone (a
    burst, a phone) only bring communities together.
    """
    names = list(names)
    strong = [x for x in links if STRONG_KINDS & set(x.kinds)]
    parts = _components(names, strong)
    if not parts or len(parts[0]) < 2:
        return set()
    burst = {LinkKind.STAFF.value, LinkKind.TERMINAL.value}
    of = {n: i for i, part in enumerate(parts) for n in part}
    touches: dict[int, set[int]] = defaultdict(set)
    for x in links:
        if burst & set(x.kinds) and of[x.a] != of[x.b]:
            touches[of[x.a]].add(of[x.b])
            touches[of[x.b]].add(of[x.a])
    kept, todo = {0}, [0]
    while todo:  # groups of two or more cards reached from the core through bursts
        for j in touches[todo.pop()]:
            if j not in kept and len(parts[j]) >= 2:
                kept.add(j)
                todo.append(j)
    return set().union(*(parts[i] for i in kept))


def community(cards: Sequence[Card], links: Iterable[GangLink],
              flags: Mapping[str, tuple[str, ...]]) -> Community:
    """The evidence of one community's core (``core``): its cards, the links among them, and
    its signals."""
    ins = {c.msisdn for c in cards}
    around = [x for x in links if x.a in ins and x.b in ins]
    kept = core(ins, around)
    cards = [c for c in cards if c.msisdn in kept]
    by_no = {c.msisdn: c for c in cards}
    inner = [x for x in around if x.a in by_no and x.b in by_no]
    kinds: dict[str, set[str]] = defaultdict(set)
    bulk: set[str] = set()
    cross: set[str] = set()
    for x in inner:
        kinds[x.a].update(x.kinds)
        kinds[x.b].update(x.kinds)
        if LinkKind.ID in x.kinds:
            bulk.update((x.a, x.b))
        if by_no[x.a].id_hash != by_no[x.b].id_hash and CROSS_KINDS & set(x.kinds):
            cross.update((x.a, x.b))
    members = tuple(
        GangMember(msisdn=c.msisdn, id_hash=c.id_hash, channel_id=c.channel_id,
                   # an e-channel order has no staff at a counter
                   staff_id="" if c.by_order else c.staff_id, registered_at=c.registered_at,
                   links=tuple(sorted(kinds[c.msisdn])), flags=flags.get(c.msisdn, ()))
        for c in sorted(cards, key=lambda c: (c.registered_at, c.msisdn)))
    n = len(cards)
    per_id = Counter(c.id_hash for c in cards)
    openers = {by_no[m].id_hash for m in bulk}
    hours = Counter((c.staff_id, c.registered_at.replace(minute=0, second=0, microsecond=0))
                    for c in cards if not c.by_order and c.staff_id)
    signals = Signals(
        cards=n, ids=len(per_id), bulk_share=len(bulk) / n if n else 0.0,
        cross_share=len(cross) / n if n else 0.0,
        flagged_share=sum(1 for c in cards if flags.get(c.msisdn)) / n if n else 0.0,
        staff_hour_max=max(hours.values(), default=0),
        cards_per_id_max=max(per_id.values(), default=0), openers=len(openers),
    )
    return Community(members=members, links=tuple(inner), signals=signals)
