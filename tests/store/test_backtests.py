"""Contract: kept rules backtests and the registration checks' keyset listing, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from telshield.domain.backtests import Backtest, BacktestRow
from telshield.domain.registrations import CheckRequest, Decision, Reason
from telshield.services.rules import RuleStats, last_backtests, record_backtest
from telshield.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 9)


def test_the_last_backtest_of_each_rules_version(store: SqlStore) -> None:
    def run(version: str, hits: int) -> Backtest:
        return record_backtest(
            store,
            version,
            [RuleStats("a", hits, hits // 2, 10), RuleStats("* all", 9, 3, 10)],
            start=T0,
            end=T0 + timedelta(days=3),
            step="1d",
            label_lag="7d",
            actor="cli:t",
            at=T0 + timedelta(days=4, hours=hits),
        )

    first = run("v1", 4)
    last = run("v1", 6)
    other = run("v2", 8)
    assert first.id is not None and last.id is not None and first.id < last.id
    got = last_backtests(store, ["v1", "v2", "v3"])
    assert set(got) == {"v1", "v2"}  # v3 never backtested
    assert got["v1"] == last and got["v2"] == other
    assert got["v1"].rows == (BacktestRow("a", 6, 3, 10), BacktestRow("* all", 9, 3, 10))
    assert got["v1"].rows[0].precision == 0.5 and got["v1"].rows[0].recall == 0.3
    assert last_backtests(store, []) == {}
    with store.transaction(write=False) as tx:
        events = tx.audit.read(subject="rules:v1")
    assert [(e.event.action, e.event.actor) for e in events] == [("rules.backtest", "cli:t")] * 2


def test_recent_checks_keyset_and_filters(store: SqlStore) -> None:
    why = (Reason("card_limit", "too many cards", Decision.REFUSE),)
    decisions = [Decision.ALLOW, Decision.VERIFY, Decision.REFUSE]
    with store.transaction() as tx:
        for i in range(9):
            d = decisions[i % 3]
            tx.registrations.add(
                CheckRequest.new(
                    id_hash=f"{i:064x}",
                    holder_kind="individual",
                    channel_id=f"CH-{i % 2}",
                    staff_id=f"ST-{i % 3}",
                    terminal_id="T-1",
                    msisdn=f"86138000000{i:02d}",
                ),
                d,
                why if d is Decision.REFUSE else (),
                actor="s",
                at=T0 + timedelta(minutes=i),
            )
    with store.transaction(write=False) as tx:
        r = tx.registrations
        seen, before = [], None
        while True:
            page = r.recent(before=before, limit=4)
            if not page:
                break
            seen += page
            before = page[-1].id
        assert [c.id for c in seen] == sorted((c.id for c in seen), reverse=True)
        assert len({c.id for c in seen}) == 9
        refused = r.recent(decision="refuse", limit=50)
        assert [c.decision for c in refused] == [Decision.REFUSE] * 3
        assert refused[0].reasons == why and refused[0].msisdn == "8613800000008"
        assert {c.channel_id for c in r.recent(channel_id="CH-1", limit=50)} == {"CH-1"}
        assert len(r.recent(channel_id="CH-1", staff_id="ST-0", limit=50)) == 1  # i = 3
