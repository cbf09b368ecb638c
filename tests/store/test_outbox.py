"""Contract: outbox and alerts on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.cases import Command, CommandKind
from telshield.store.sql import SqlAlertSink, SqlStore

T0 = datetime(2026, 3, 1, 9)


def test_outbox_dedupes_keys_and_tracks_delivery(store: SqlStore) -> None:
    cmds = [Command.of(CommandKind.SUSPEND, "8613800000001", action_ref="action:1", at=T0),
            Command.of(CommandKind.NOTIFY, "8613800000001", action_ref="action:1", at=T0,
                       text="told")]
    with store.transaction() as tx:
        assert tx.outbox.add(cmds) == 2
        assert tx.outbox.add(cmds) == 0  # replay of the same action queues nothing
    with store.transaction() as tx:
        pending = tx.outbox.pending(10)
        assert [c.kind for c in pending] == [CommandKind.SUSPEND, CommandKind.NOTIFY]
        tx.outbox.attempted([c.id or 0 for c in pending])
        assert tx.outbox.delivered([pending[0].id or 0], T0) == 1
        assert tx.outbox.delivered([pending[0].id or 0], T0) == 0
    with store.transaction() as tx:
        (left,) = tx.outbox.pending(10)
        assert left.attempts == 1 and left.text == "told"
        assert len(tx.outbox.find(msisdn="8613800000001")) == 2


def test_alert_sink_keeps_one_open_alert_and_history(store: SqlStore) -> None:
    sink = SqlAlertSink(store)
    r = (Reason("rule:many_strangers", "calls many strangers", "strangers", 40.0, float("nan")),)
    a1 = Alert("8613800000001", 0.75, Tier.VERIFY, r, T0, T0, features={"x": 1.0})
    a2 = Alert("8613800000001", 0.95, Tier.SUSPEND, r, T0, T0, features={"x": float("inf")})
    b = Alert("8613800000002", 0.6, Tier.WATCH, (), T0, T0)
    sink.upsert([a1, b])
    sink.upsert([a2])
    opened = {a.msisdn: a for a in sink.open_alerts()}
    assert opened["8613800000001"].tier is Tier.SUSPEND and opened["8613800000002"] == b
    assert opened["8613800000001"].reasons[0].contribution is None  # NaN is not JSON
    with store.transaction() as tx:
        (now,) = tx.alerts.find(msisdn="8613800000001")  # updated in place
        assert (now.alert.score, now.is_open, now.version) == (0.95, True, 2)
        hist = tx.alerts.versions("8613800000001")
        assert [h.alert.score for h in hist] == [0.75, 0.95]
        assert len(tx.alerts.find(open_only=True)) == 2
