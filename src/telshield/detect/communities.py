"""Communities of the registration graph (Leiden on igraph) and each one's evidence.

Works on the edge list ``detect.gangs.registration_links`` returns, once executed, and on the
cards it links: plain in-memory data, no engine. Leiden (not Louvain) because it guarantees
connected communities; modularity because it never merges cards that share nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

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


BURST = frozenset({LinkKind.STAFF.value, LinkKind.TERMINAL.value})


def stores(names: Iterable[str], cards: Mapping[str, Card]) -> set[str]:
    """The stores (channel IDs) where the given cards were opened at a counter."""
    return {cards[n].channel_id for n in names
            if n in cards and not cards[n].by_order and cards[n].channel_id}


def at_stores(group: Iterable[str], cards: Mapping[str, Card], where: set[str]) -> bool:
    """Whether more than half of a group's cards were opened at a counter of one of the stores
    ``where`` (an e-channel card counts against: it was opened at no store)."""
    group = list(group)
    n = sum(1 for m in group
            if m in cards and not cards[m].by_order and cards[m].channel_id in where)
    return 2 * n > len(group)


def counter_staff(names: Iterable[str], cards: Mapping[str, Card]) -> set[str]:
    """The staff IDs that opened the given cards at a counter."""
    return {cards[n].staff_id for n in names
            if n in cards and not cards[n].by_order and cards[n].staff_id}


def by_staff(group: Iterable[str], cards: Mapping[str, Card], where: set[str],
             who: set[str]) -> bool:
    """Whether every card of a group was opened at a counter of one of the stores ``where``,
    and more than half of them by one of the staff IDs ``who``."""
    group = list(group)
    if not all(m in cards and not cards[m].by_order and cards[m].channel_id in where
               for m in group):
        return False
    return 2 * sum(1 for m in group if cards[m].staff_id in who) > len(group)


def _touching(parts: Sequence[set[str]], links: Iterable[GangLink]) -> dict[int, set[int]]:
    """Which strongly tied groups share a staff ID's or terminal's burst."""
    of = {n: i for i, part in enumerate(parts) for n in part}
    touches: dict[int, set[int]] = defaultdict(set)
    for x in links:
        i, j = of.get(x.a), of.get(x.b)
        if i is not None and j is not None and i != j and BURST & set(x.kinds):
            touches[i].add(j)
            touches[j].add(i)
    return touches


def _grow(kept: set[int], parts: Sequence[set[str]], touches: Mapping[int, set[int]],
          cards: Mapping[str, Card] | None, free: Callable[[int], bool]) -> set[int]:
    """Add to ``kept`` every group of two or more cards reached from it through bursts that
    ``free`` allows and that was opened mostly at the kept cards' stores (``at_stores``; no
    store test without ``cards``), until nothing more joins: the result does not depend on
    the order the groups are met in."""
    kept = set(kept)
    where = stores(set().union(*(parts[i] for i in kept)), cards) if cards is not None else set()
    grew = True
    while grew:
        grew = False
        for j in sorted({j for i in kept for j in touches.get(i, ())} - kept):
            if len(parts[j]) < 2 or not free(j):
                continue
            if cards is not None and not at_stores(parts[j], cards, where):
                continue
            kept.add(j)
            if cards is not None:
                where |= stores(parts[j], cards)
            grew = True
    return kept


def core(names: Iterable[str], links: Sequence[GangLink],
         cards: Mapping[str, Card] | None = None) -> set[str]:
    """The cards of a community that belong to its gang, if it is one.

    Leiden puts a card where most of its weight goes, so an honest customer whom a colluding
    staff ID served on a gang's busy day, or a card that went into a den's phone after a gang
    card, joins the gang's community through that one weak link. Membership needs more: the
    card must be tied by a *strong* link (the same ID within days, or an e-channel order's
    address, contact, device or IP) into the largest strongly tied group of the community, or
    belong to another strongly tied group of cards (an opener's cards opened at a counter) that
    shares a staff ID's or terminal's burst with a group already kept and whose cards were
    mostly opened at the stores of the cards kept (``at_stores``): a gang sends its openers to
    a few colluding stores, while an honest customer with two cards whom a colluding staff ID
    served once opened the other one elsewhere. Weak links alone (a burst, a phone) only bring
    communities together.
    """
    names = list(names)
    strong = [x for x in links if STRONG_KINDS & set(x.kinds)]
    parts = _components(names, strong)
    if not parts or len(parts[0]) < 2:
        return set()
    kept = _grow({0}, parts, _touching(parts, links), cards, lambda j: True)
    return set().union(*(parts[i] for i in kept))


def _free(j: int, *, owner: Mapping[int, int], after: int) -> bool:
    return j > after and j not in owner


def _recruit(kept: set[int], parts: Sequence[set[str]], by_who: Mapping[str, set[int]],
             cards: Mapping[str, Card], free: Callable[[int], bool]) -> set[int]:
    """Add to ``kept`` every opener's group (``by_who``: the groups each staff ID opened a card
    of) whose cards were all opened at the kept cards' stores, most of them by the kept
    cards' own counter staff (``by_staff``), on any day: the same test as the stores', with
    the colluding staff instead of a shared burst as the way in. One pass: a group taken in
    this way adds no staff ID to the gang's, so one honest customer's clerk never brings in
    the clerk's other customers."""
    mine = set().union(*(parts[i] for i in kept))
    where, who = stores(mine, cards), counter_staff(mine, cards)
    return set(kept) | {j for j in {j for w in who for j in by_who.get(w, ())} - kept
                        if free(j) and by_staff(parts[j], cards, where, who)}


def annex(gangs: Sequence[set[str]], links: Sequence[GangLink],
          cards: Mapping[str, Card]) -> list[set[str]]:
    """The gangs' cores grown across Leiden's cuts: each gang, largest first, takes in the
    strongly tied groups outside every gang and the smaller gangs that share a staff ID's or
    terminal's burst with its cards and were opened mostly at its stores (``at_stores``), the
    same test ``core`` applies inside a community; and the openers' groups outside every gang
    that came to a counter on two days or more and whose cards were all opened at its stores,
    most of them by its own counter staff (``by_staff``): a gang sends its openers back to the
    same colluding staff day after day, while a burst ties only the cards opened within hours
    of each other, and an honest customer's cards are mostly opened in one visit. Modularity
    cuts a gang whose parts met only through the colluding staff's bursts into several
    communities; this puts the parts back together, and leaves apart two gangs that share one
    store but each used stores of its own. Returns the grown gangs (a gang taken in by a larger
    one is gone), largest first."""
    if not gangs:
        return []
    names = set(cards) | {x for y in links for x in (y.a, y.b)}
    strong = [x for x in links if STRONG_KINDS & set(x.kinds)]
    # The groups: each gang as one, then the strongly tied groups of the rest of the graph.
    order = sorted(range(len(gangs)), key=lambda i: (-len(gangs[i]), min(gangs[i])))
    parts: list[set[str]] = [set(gangs[i]) for i in order]
    taken = set().union(*parts)
    parts += _components(names - taken,
                         [x for x in strong if x.a not in taken and x.b not in taken])
    touches = _touching(parts, links)
    # The openers' groups ``_recruit`` may take in (two or more cards, all at a counter, on two
    # days or more), by the staff IDs that opened them.
    by_who: dict[str, set[int]] = defaultdict(set)
    for j in range(len(gangs), len(parts)):
        if (len(parts[j]) >= 2 and all(n in cards and not cards[n].by_order for n in parts[j])
                and len({cards[n].registered_at.date() for n in parts[j]}) >= 2):
            for w in counter_staff(parts[j], cards):
                by_who[w].add(j)
    owner: dict[int, int] = {}  # group -> the gang (its index in parts) that took it in
    for g in range(len(gangs)):
        if g in owner:
            continue
        # groups after g: the smaller gangs, then the rest; none another gang took in
        free = partial(_free, owner=owner, after=g)
        kept = _grow({g}, parts, touches, cards, free)
        # the gang's staff on other days, then the bursts those openers bring
        kept = _grow(_recruit(kept, parts, by_who, cards, free), parts, touches, cards, free)
        for j in kept - {g}:
            owner[j] = g
    out = [set().union(*(parts[j] for j in [g, *[j for j, o in owner.items() if o == g]]))
           for g in range(len(gangs)) if g not in owner]
    return sorted(out, key=lambda s: (-len(s), min(s)))


def community(cards: Sequence[Card], links: Iterable[GangLink],
              flags: Mapping[str, tuple[str, ...]], *, whole: bool = False) -> Community:
    """The evidence of one community's core (``core``; with ``whole``, the cards given are the
    gang already, as ``annex`` grew it): its cards, the links among them, and its signals."""
    ins = {c.msisdn for c in cards}
    around = [x for x in links if x.a in ins and x.b in ins]
    kept = ins if whole else core(ins, around, {c.msisdn: c for c in cards})
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
