"""The video statement inside the registration check, over a real store (SQLite and
PostgreSQL): a matching statement allows, a mule's is sent to verification (or refused, as
configured), a required one that is absent is missing; the audit keeps the score and the
mismatched part, and the transcript itself is nowhere: not in the store, not in the logs."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog
from tests.services.feeds import write_feed

from telshield.domain.errors import InvalidInput, Unavailable
from telshield.domain.registrations import CheckRequest, Decision, Limits
from telshield.domain.statement import StatementPolicy
from telshield.services.audit import AuditService
from telshield.services.lakeread import FeedReader
from telshield.services.registrations import RegistrationService
from telshield.services.registry import LakeRegistry
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore

ID = "9f" * 32
NUMBER = "13800000010"  # the tail to say: 0010
HONEST = "嗯，那个，我本人实名登记并领取了尾号零零幺零的电话卡，谢谢师傅"
MULE = "我本人实名登记并领取了尾号6688的电话卡"


class Heard:
    """A speech recogniser that hears what it was told to (the protocol, without a model)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls: list[tuple[int, int]] = []

    def transcribe(self, audio: bytes, sample_rate: int) -> str:
        self.calls.append((len(audio), sample_rate))
        return self.text


def service(store: SqlStore, root: Path, clock: FixedClock, *, transcriber: Heard | None = None,
            policy: StatementPolicy = StatementPolicy()) -> RegistrationService:
    write_feed(root, "subscribers", [
        {"msisdn": "8613800000001", "imsi": "460001234567890", "id_hash": ID,
         "holder_kind": "individual", "registered_at": datetime(2025, 1, 1), "channel_id": "CH-1",
         "staff_id": "ST-0", "status": "active"}])
    return RegistrationService(store, clock, LakeRegistry(lambda: FeedReader(root)),
                               # Several checks per test: the 30-day velocity is not under test.
                               Limits(cards_30d_verify=100, statement=policy),
                               appeal_channel="call 10086", transcriber=transcriber)


def check(s: RegistrationService, transcript: str | None, msisdn: str = NUMBER
          ) -> tuple[Decision, list[str], str]:
    r = s.check(id_hash=ID, holder_kind="individual", channel_id="CH-1", staff_id="ST-1",
                terminal_id="T-1", msisdn=msisdn, actor="sales-sys", transcript=transcript)
    return r.decision, [x.code for x in r.reasons], " ".join(x.text for x in r.reasons)


def test_an_honest_statement_allows_and_its_score_is_recorded(store: SqlStore, tmp_path: Path,
                                                              clock: FixedClock) -> None:
    s = service(store, tmp_path, clock)
    r = s.check(id_hash=ID, holder_kind="individual", channel_id="CH-1", staff_id="ST-1",
                terminal_id="T-1", msisdn=NUMBER, actor="sales-sys", transcript=HONEST)
    assert r.decision is Decision.ALLOW and r.reasons == ()
    assert r.statement is not None and r.statement.passed and r.statement.tail_heard == "0010"
    [event] = AuditService(store).events()
    assert event.event.detail["statement"] == {"score": r.statement.score, "passed": True,
                                               "tail_ok": True, "silent": False,
                                               "mismatch": "all parts heard; 4 character(s) "
                                                           "added"}


def test_a_mule_s_statement_is_verified_with_what_did_not_match(store: SqlStore, tmp_path: Path,
                                                                clock: FixedClock) -> None:
    s = service(store, tmp_path, clock)
    decision, codes, text = check(s, MULE)
    assert decision is Decision.VERIFY and codes == ["statement_mismatch"]
    assert "score 0.8" in text and "tail digits heard 6688, the number ends 0010" in text
    decision, codes, text = check(s, "我替张三实名登记并领取了尾号0010的电话卡")
    assert codes == ["statement_mismatch"] and "'本人' heard as '替张三'" in text
    detail = AuditService(store).events()[-1].event.detail
    assert detail["statement"]["passed"] is False and detail["reasons"] == ["statement_mismatch"]


def test_the_operator_may_refuse_a_failed_statement(store: SqlStore, tmp_path: Path,
                                                    clock: FixedClock) -> None:
    s = service(store, tmp_path, clock, policy=StatementPolicy(refuse_on_fail=True))
    r = s.check(id_hash=ID, holder_kind="individual", channel_id="CH-1", staff_id="ST-1",
                terminal_id="T-1", msisdn=NUMBER, actor="sales-sys", transcript=MULE)
    assert r.decision is Decision.REFUSE and r.appeal_channel == "call 10086"


def test_missing_and_silent_statements(store: SqlStore, tmp_path: Path, clock: FixedClock
                                       ) -> None:
    s = service(store, tmp_path, clock)
    assert check(s, None)[:2] == (Decision.ALLOW, [])  # not required by default
    assert check(s, "嗯……", "13800000011")[:2] == (Decision.VERIFY, ["statement_missing"])
    s = service(store, tmp_path, clock, policy=StatementPolicy(required=True))
    assert check(s, None, "13800000012")[:2] == (Decision.VERIFY, ["statement_missing"])
    assert check(s, "", "13800000013")[:2] == (Decision.VERIFY, ["statement_missing"])


def test_the_transcript_is_never_stored_or_logged(store: SqlStore, tmp_path: Path,
                                                  clock: FixedClock,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    s = service(store, tmp_path, clock)
    with structlog.testing.capture_logs() as logs:
        assert check(s, HONEST)[0] is Decision.ALLOW
        assert check(s, MULE, "13800000011")[0] is Decision.VERIFY
    engine = store.engine  # type: ignore[attr-defined]
    dumped = []
    with engine.connect() as conn:
        for t in sa.inspect(conn).get_table_names():
            dumped += [json.dumps([str(v) for v in row], ensure_ascii=False) for row in
                       conn.execute(sa.text(f"SELECT * FROM {t}"))]
    text = "\n".join(dumped) + json.dumps(logs, default=str, ensure_ascii=False) + caplog.text
    assert "6688" in text  # the mismatched part is kept: the search below means something
    for secret in (HONEST, MULE, "谢谢师傅", "零零幺零"):
        assert secret not in text
    request = CheckRequest.new(id_hash=ID, holder_kind="individual", channel_id="CH-1",
                               staff_id="ST-1", msisdn=NUMBER, terminal_id="",
                               transcript=HONEST)
    assert request.transcript == HONEST and HONEST not in repr(request)


def test_a_long_transcript_is_refused_without_being_echoed(store: SqlStore, tmp_path: Path,
                                                           clock: FixedClock) -> None:
    s = service(store, tmp_path, clock)
    with pytest.raises(InvalidInput, match="transcript is at most 2000") as e:
        check(s, "我本人" * 700)
    assert "我本人" not in str(e.value)


def test_audio_goes_through_the_configured_recogniser(store: SqlStore, tmp_path: Path,
                                                      clock: FixedClock) -> None:
    heard = Heard(HONEST)
    s = service(store, tmp_path, clock, transcriber=heard)
    transcript = s.transcribe(b"\x00\x01" * 16000, 16000)
    assert heard.calls == [(32000, 16000)]
    assert check(s, transcript)[:2] == (Decision.ALLOW, [])
    with pytest.raises(InvalidInput, match="audio is empty"):
        s.transcribe(b"", 16000)
    with pytest.raises(Unavailable, match="statement_model"):
        service(store, tmp_path, clock).transcribe(b"\x00\x01", 16000)
