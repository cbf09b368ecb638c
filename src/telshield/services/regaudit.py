"""The batch registration audit (入网稽核): past registrations in the lake that broke a rule the
check enforces, the e-channel order anomaly report, and the risk rankings — each a section of
rows an analyst reads as a table or takes away as CSV or JSON.

The check stops what it sees; this finds what got through: cards registered before the check
ran, through a channel that skipped it, or in patterns spread over many checks. Sanctions are
the check's: the lake's ``sanctions`` feed and the store's black ID-hash list entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import structlog

from telshield.domain.clock import store_to_feed
from telshield.domain.lists import ListEntry
from telshield.domain.paging import Page
from telshield.domain.registrations import Limits
from telshield.domain.regrisk import RiskBy, RiskRow, rank
from telshield.services.regrisk import RiskRanking
from telshield.services.store import Store

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from telshield.services.lakeread import FeedReader

log = structlog.get_logger(__name__)
NEVER = datetime(9999, 12, 31)
_SANCTION_SCHEMA = pa.schema([("id_hash", pa.string()), ("starts_at", pa.timestamp("us")),
                              ("ends_at", pa.timestamp("us")), ("reason", pa.string()),
                              ("authority", pa.string())])


@dataclass(frozen=True)
class Section:
    """One part of the audit: a name (file name and JSON key), a title, its rows."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]


def _listed(entries: list[ListEntry]) -> pa.Table:
    # List entries are stamped in store time (UTC); registrations are feed time (CST).
    rows = [{"id_hash": e.value, "starts_at": store_to_feed(e.created_at),
             "ends_at": store_to_feed(e.expires_at) if e.expires_at else NEVER,
             "reason": e.reason, "authority": f"{e.actor} ({e.source.value} list entry {e.id})"}
            for e in entries]
    return pa.Table.from_pylist(rows, schema=_SANCTION_SCHEMA)


class RegistrationAudit:
    """Runs the audit over the lake, with the store's sanctions and risk outcomes."""

    def __init__(self, store: Store, reader: Callable[[], FeedReader], limits: Limits,
                 ranking: RiskRanking) -> None:
        self.store, self._reader_of, self.limits, self.ranking = store, reader, limits, ranking

    def _store_sanctions(self) -> list[ListEntry]:
        out: list[ListEntry] = []
        with self.store.transaction(write=False) as tx:
            while True:
                page = tx.lists.find(kind="id_hash", colour="black",
                                     page=Page(limit=1000, offset=len(out)))
                out.extend(page)
                if len(page) < 1000:
                    return out

    def _sanctions(self, r: FeedReader) -> ir.Table:
        import ibis

        cols = [f.name for f in _SANCTION_SCHEMA]
        listed = ibis.memtable(_listed(self._store_sanctions()))
        if not r.files("sanctions"):
            return listed
        lake = r.table("sanctions").select(*cols)
        return lake.union(listed.select(*cols))

    def run(self, since: datetime, until: datetime | None = None, *, top: int = 20
            ) -> list[Section]:
        """Every section over registrations and orders in [since, until) (feed time)."""
        from telshield.detect import registrations as d

        r, lim = self._reader_of(), self.limits
        subs, orders = r.table("subscribers"), r.table("orders")

        def run(name: str, title: str, expr: ir.Table) -> Section:
            got = r.con.to_pyarrow(expr)
            return Section(name, title, tuple(got.column_names), got.to_pylist())

        out = [
            run("sanctioned", "Registrations of persons under a communication sanction (限制入网)",
                d.sanctioned_registrations(subs, self._sanctions(r), since=since, until=until)),
            run("over_limit", f"IDs holding more than {lim.cards_per_id} live numbers",
                d.over_card_limit(subs, limit=lim.cards_per_id, since=since)),
            run("bulk_staff", f"Staff IDs registering more than {lim.staff_hour_verify} cards in "
                "a clock hour", d.bulk_openings(subs, column="staff_id",
                                                limit=lim.staff_hour_verify, since=since,
                                                until=until)),
            run("bulk_terminal", f"Terminals registering more than {lim.terminal_hour_verify} "
                "cards in a clock hour", d.bulk_openings(subs, column="terminal_id",
                                                         limit=lim.terminal_hour_verify,
                                                         since=since, until=until)),
            run("order_shared", f"Order addresses, contacts, devices and IPs shared by more than "
                f"{lim.order_24h_verify} IDs", d.shared_order_values(
                    orders, limit=lim.order_24h_verify, since=since, until=until)),
            run("order_bursts", f"More than {lim.order_24h_verify} orders sharing one value on "
                "one day", d.order_bursts(orders, limit=lim.order_24h_verify, since=since,
                                          until=until)),
        ]
        table = self.ranking.rows(tuple(RiskBy), since=since)
        for b in RiskBy:
            ranked = rank(table.rows[b].values(), min_count=self.ranking.options.min_count)
            out.append(Section(f"risk_{b.value}", f"{b.value} risk ranking (top {top})",
                               RISK_COLUMNS, [risk_dict(x, i + 1)
                                              for i, x in enumerate(ranked[:top])]))
        log.info("regaudit.run", since=since.isoformat(),
                 rows={s.name: len(s.rows) for s in out})
        return out


RISK_COLUMNS = ("rank", "key", "registrations", "bad", "share", "lower", "alerted", "clued",
                "confirmed")


def risk_dict(row: RiskRow, place: int) -> dict[str, Any]:
    """A ranked risk row as a plain record (shares rounded to 4 places)."""
    return {"rank": place, "key": row.key, "registrations": row.registrations, "bad": row.bad,
            "share": round(row.share, 4), "lower": round(row.lower, 4),
            "alerted": row.alerted, "clued": row.clued, "confirmed": row.confirmed}
