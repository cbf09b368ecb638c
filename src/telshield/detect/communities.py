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

from telshield.domain.gangs import CROSS_KINDS, LinkKind, GangLink, GangMember, Signals

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


def community(cards: Sequence[Card], links: Iterable[GangLink],
              flags: Mapping[str, tuple[str, ...]]) -> Community:
    """The evidence of one community: its cards, the links inside it, and its signals."""
    by_no = {c.msisdn: c for c in cards}
    inner = [x for x in links if x.a in by_no and x.b in by_no]
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
    hours = Counter((c.staff_id, c.registered_at.replace(minute=0, second=0, microsecond=0))
                    for c in cards if not c.by_order and c.staff_id)
    signals = Signals(
        cards=n, ids=len(per_id), bulk_share=len(bulk) / n if n else 0.0,
        cross_share=len(cross) / n if n else 0.0,
        flagged_share=sum(1 for c in cards if flags.get(c.msisdn)) / n if n else 0.0,
        staff_hour_max=max(hours.values(), default=0),
        cards_per_id_max=max(per_id.values(), default=0),
    )
    return Community(members=members, links=tuple(inner), signals=signals)
