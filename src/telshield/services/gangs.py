"""Card-trafficking gangs (开卡贩卡团伙): find them in the registration graph, keep them as cases,
dispose of their cards in one action.

``find`` builds the weighted graph of cards registered in a window (``detect.gangs``, one lazy
expression over the lake), cuts it into Leiden communities (``detect.communities``), scores each
(``domain.gangs.ScoreRule``) with what the store and the police already say of its cards (open
alerts, open cases, clues), and stores the communities that score as gangs. A gang found again
keeps its id: a community that holds at least half of a stored open gang's cards (or half of its
own cards are that gang's) updates that gang, members and evidence, instead of adding another.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import structlog

from telshield.detect.communities import Card, Community, annex, communities, community
from telshield.detect.gangs import KIND_WEIGHTS, cards, registration_links
from telshield.domain.audit import AuditEvent
from telshield.domain.cases import ActionKind
from telshield.domain.gangs import Gang, GangLink, ScoreRule, gang_ref
from telshield.domain.paging import Page
from telshield.services.cases import CaseService
from telshield.services.disposal import BulkResult
from telshield.services.lakeread import FeedReader
from telshield.services.store import Clock, Store

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class GraphParams:
    """How the registration graph is built (the ``[gangs]`` settings)."""

    lookback_days: int = 120
    burst_hours: int = 24
    max_group: int = 50
    id_days: int = 30
    use_imei: bool = True
    annex: bool = True  # grow gangs across Leiden's cuts (``detect.communities.annex``)
    weights: Mapping[str, float] = field(default_factory=lambda: dict(KIND_WEIGHTS))


@dataclass(frozen=True)
class FindResult:
    """What one ``find`` run saw and stored."""

    since: datetime
    until: datetime
    cards: int  # linked cards in the graph
    links: int
    communities: int  # of at least two cards
    gangs: tuple[Gang, ...]  # stored or updated this run, highest score first
    new: int
    updated: int


class GangService:
    """Find, keep, show and dispose of card-trafficking gangs."""

    def __init__(self, store: Store, clock: Clock, reader: FeedReader, rule: ScoreRule,
                 params: GraphParams, cases: CaseService | None = None) -> None:
        self.store, self.clock, self.reader = store, clock, reader
        self.rule, self.params, self.cases = rule, params, cases

    def find(self, *, actor: str, since: datetime | None = None,
             until: datetime | None = None) -> FindResult:
        """Find gangs among cards registered in [since, until) (default: the last
        ``lookback_days`` of the subscribers feed) and store them."""
        self.reader.require("subscribers")
        subs = self.reader.table("subscribers")
        if until is None:
            latest = subs.registered_at.max().to_pyarrow().as_py()
            until = (latest or datetime(2000, 1, 1)) + timedelta(seconds=1)
        if since is None:
            since = until - timedelta(days=self.params.lookback_days)
        links = self._links(since, until)
        linked = _cards(self.reader, since, until, links)
        parts = communities(links)
        found = self._gangs(parts, links, linked, self._flags(list(linked)))
        stored, new = self._save(found, actor=actor)
        log.info("gangs.found", cards=len(linked), links=len(links), gangs=len(stored), new=new,
                 updated=len(stored) - new)
        return FindResult(since=since, until=until, cards=len(linked), links=len(links),
                          communities=len(parts),
                          gangs=tuple(sorted(stored, key=lambda g: -g.score)), new=new,
                          updated=len(stored) - new)

    def _gangs(self, parts: Sequence[Sequence[str]], links: Sequence[GangLink],
               linked: Mapping[str, Card], flags: Mapping[str, tuple[str, ...]]
               ) -> list[Community]:
        """The communities that score as gangs."""
        where = {n: i for i, names in enumerate(parts) for n in names}
        inside: dict[int, list[GangLink]] = defaultdict(list)
        for x in links:  # each community's own links, grouped once
            i = where.get(x.a)
            if i is not None and i == where.get(x.b):
                inside[i].append(x)
        found = []
        for i, names in enumerate(parts):
            c = community([linked[n] for n in names if n in linked], inside[i], flags)
            if self.rule.is_gang(c.signals):
                found.append(c)
        if not self.params.annex or len(found) == 0:
            return found
        # Leiden's cuts undone where a gang's parts met through its staff's bursts at its own
        # stores (``annex``); a grown gang is scored again on all its cards.
        grown = annex([{m.msisdn for m in c.members} for c in found], links, linked)
        out = []
        for mine in grown:
            c = community([linked[n] for n in sorted(mine)],
                          [x for x in links if x.a in mine and x.b in mine], flags, whole=True)
            if self.rule.is_gang(c.signals):
                out.append(c)
        return out

    def _save(self, found: Sequence[Community], *, actor: str) -> tuple[list[Gang], int]:
        """Store each gang (updating the stored gang it continues) with its audit event, in
        one transaction; return them and how many are new."""
        now = self.clock.now()
        stored: list[Gang] = []
        new = 0
        with self.store.transaction() as tx:
            owner = tx.gangs.open_members()
            taken: set[int] = set()
            for c in found:
                match = _match([m.msisdn for m in c.members], owner, taken)
                gang = Gang(score=round(self.rule.score(c.signals), 4), members=c.members,
                            links=c.links, signals=c.signals, found_at=now, updated_at=now)
                if match is not None:
                    gang = replace(gang, id=match, found_at=tx.gangs.get(match).found_at)
                else:
                    new += 1
                saved = tx.gangs.save(gang)
                taken.add(int(saved.id or 0))
                stored.append(saved)
                tx.audit.append([AuditEvent(
                    actor=actor, action="gang.update" if match is not None else "gang.found",
                    subject=f"gang:{saved.id}", at=now,
                    detail={"score": saved.score, "cards": saved.signals.cards,
                            "openers": saved.signals.openers,
                            "staff_ids": list(saved.staff_ids[:10]),
                            "links": saved.link_counts})])
        return stored, new

    def _links(self, since: datetime, until: datetime) -> list[GangLink]:
        p = self.params
        calls = self.reader.table("calls", since) if p.use_imei and self.reader.files(
            "calls") else None
        e = registration_links(self.reader.table("subscribers"), self.reader.table("orders"),
                               calls, since=since, until=until, burst_hours=p.burst_hours,
                               max_group=p.max_group, id_days=p.id_days, weights=p.weights)
        # By card pair, whatever order the engine returns them in (a gang keeps its links in
        # this order).
        t = sorted(e.to_pyarrow().to_pylist(), key=lambda r: (r["a"], r["b"]))
        return [GangLink(a=r["a"], b=r["b"], kinds=tuple(sorted(r["kinds"])),
                         weight=float(r["weight"])) for r in t]

    def _flags(self, msisdns: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """What already happened to each card: an open alert, an open case, a police clue."""
        mine = set(msisdns)
        out: dict[str, set[str]] = defaultdict(set)
        with self.store.transaction(write=False) as tx:
            for a in tx.alerts.open_alerts():
                if a.msisdn in mine:
                    out[a.msisdn].add("alert")
            for m in tx.cases.open_for(list(mine)):
                out[m].add("case")
        if self.reader.files("clues") and mine:
            clues = self.reader.table("clues")
            for m in clues.select("msisdn").distinct().to_pyarrow().column(0).to_pylist():
                if m in mine:
                    out[m].add("clue")
        return {k: tuple(sorted(v)) for k, v in out.items()}

    def list(self, *, min_score: float = 0.0, page: Page = Page()) -> list[Gang]:
        """Stored gangs, highest score first (without members)."""
        with self.store.transaction(write=False) as tx:
            return tx.gangs.find(min_score=min_score, page=page)

    def get(self, gang_id: int) -> Gang:
        """One gang with its members and links; NotFound if absent."""
        with self.store.transaction(write=False) as tx:
            return tx.gangs.get(gang_id)

    def dispose(self, gang_id: int, kind: ActionKind, *, actor: str, reason: str) -> BulkResult:
        """Dispose of every card of a gang in one action (all or none), each case marked with
        the gang's reference."""
        if self.cases is None:
            raise RuntimeError("GangService was built without the cases service")
        gang = self.get(gang_id)
        return self.cases.bulk(list(gang.msisdns), kind, actor=actor, reason=reason,
                               group_ref=gang_ref(gang_id))


def _cards(reader: FeedReader, since: datetime, until: datetime,
           links: Sequence[GangLink]) -> dict[str, Card]:
    """The linked cards as the subscribers feed shows them."""
    if not links:
        return {}
    wanted = {x for link in links for x in (link.a, link.b)}
    c = cards(reader.table("subscribers"), since=since, until=until)
    rows = c.select("msisdn", "id_hash", "channel_id", "staff_id", "order_id",
                    "registered_at").to_pyarrow().to_pylist()
    return {r["msisdn"]: Card(msisdn=r["msisdn"], id_hash=r["id_hash"] or "",
                              channel_id=r["channel_id"] or "", staff_id=r["staff_id"] or "",
                              registered_at=r["registered_at"], by_order=r["order_id"] is not None)
            for r in rows if r["msisdn"] in wanted}


def _match(members: Sequence[str], owner: Mapping[str, int], taken: set[int]) -> int | None:
    """The stored open gang this community continues, if any: the one holding most of its
    cards, when that is at least half of the community or half of the gang."""
    hits = Counter(owner[m] for m in members if m in owner and owner[m] not in taken)
    if not hits:
        return None
    gang_id, n = hits.most_common(1)[0]
    size = sum(1 for g in owner.values() if g == gang_id)
    return gang_id if 2 * n >= min(len(members), size) else None
