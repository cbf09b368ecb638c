"""The video statement retake inside the registration check, over a real store (SQLite and
PostgreSQL): a near miss is answered ``retake``; the application sent again with the second
recording is allowed when it matches exactly and verified when it does not; a retake sent
where none was asked is ignored; only one retake per ID and number; each check is audited with
what became of the retake, and neither transcript is kept."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from tests.services.test_registrations_statement import ID, service

from telshield.domain.registrations import CheckResult, Decision, Retake
from telshield.services.audit import AuditService
from telshield.services.registrations import RegistrationService
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore

NUMBER = "13800001654"
SLIP = "我本人实名登记并领取了尾号1754的电话卡"  # one tail digit misheard
RIGHT = "嗯，我本人实名登记并领取了尾号幺六五四的电话卡"
NEIGHBOUR = "我本人实名登记并领取了尾号1655的电话卡"  # the next card's tail


def check(s: RegistrationService, transcript: str | None, retake: str | None = None,
          msisdn: str = NUMBER, staff: str = "ST-1") -> CheckResult:
    return s.check(id_hash=ID, holder_kind="individual", channel_id="CH-1", staff_id=staff,
                   terminal_id="T-1", msisdn=msisdn, actor="sales-sys", transcript=transcript,
                   retake_transcript=retake)


def codes(r: CheckResult) -> list[str]:
    return [x.code for x in r.reasons]


def test_a_good_retake_allows(store: SqlStore, tmp_path: Path, clock: FixedClock) -> None:
    s = service(store, tmp_path, clock)
    r = check(s, SLIP)
    assert (r.decision, codes(r), r.retake) == (Decision.RETAKE, ["statement_retake"],
                                                Retake.ASKED)
    assert r.appeal_channel == "" and r.statement is not None and r.statement.tail_heard == "1754"
    r = check(s, SLIP, RIGHT)
    assert (r.decision, codes(r), r.retake) == (Decision.ALLOW, [], Retake.PASSED)
    assert r.statement is not None and r.statement.tail_heard == "1654" and r.statement.passed
    events = [e.event for e in AuditService(store).events()]
    assert [e.detail["decision"] for e in events] == ["retake", "allow"]
    assert [e.detail["retake"] for e in events] == ["asked", "passed"]
    assert events[1].detail["statement"]["tail_ok"] is True
    # The retake is read once: sent again, it is ignored and the first recording is judged,
    # a near miss that gets no second retake.
    r = check(s, SLIP, RIGHT)
    assert (r.decision, codes(r), r.retake) == (Decision.VERIFY, ["statement_mismatch"],
                                                Retake.IGNORED)


def test_a_mule_reading_the_next_card_s_tail_is_verified_after_the_retake(
        store: SqlStore, tmp_path: Path, clock: FixedClock) -> None:
    s = service(store, tmp_path, clock)
    assert check(s, NEIGHBOUR).decision is Decision.RETAKE
    r = check(s, NEIGHBOUR, NEIGHBOUR)
    assert (r.decision, codes(r), r.retake) == (Decision.VERIFY, ["statement_mismatch"],
                                                Retake.FAILED)
    assert "retaken video statement does not match" in r.reasons[0].text
    assert r.appeal_channel == "call 10086"
    # No third recording: a new near miss for the same ID and number goes to verification.
    r = check(s, NEIGHBOUR)
    assert (r.decision, codes(r)) == (Decision.VERIFY, ["statement_mismatch"])
    r = check(s, None, "")  # a silent retake, not asked: ignored
    assert r.retake is Retake.IGNORED


def test_a_retake_where_none_was_asked_is_ignored(store: SqlStore, tmp_path: Path,
                                                  clock: FixedClock) -> None:
    s = service(store, tmp_path, clock)
    r = check(s, "我本人实名登记并领取了尾号8642的电话卡", RIGHT)
    assert (r.decision, codes(r), r.retake) == (Decision.VERIFY, ["statement_mismatch"],
                                                Retake.IGNORED)
    assert r.statement is not None and r.statement.tail_heard == "8642"
    # Passed first time: the retake is not read (this number's last check was no retake).
    r = check(s, RIGHT.replace("幺六五四", "2222"), SLIP, msisdn="13800002222")
    assert (r.decision, codes(r), r.retake) == (Decision.ALLOW, [], Retake.IGNORED)
    assert AuditService(store).events()[-1].event.detail["retake"] == "ignored"


def test_the_retake_is_answered_per_number_and_not_counted_twice(
        store: SqlStore, tmp_path: Path, clock: FixedClock) -> None:
    s = service(store, tmp_path, clock)
    assert check(s, SLIP).decision is Decision.RETAKE
    # Another number of the same ID is its own application: its retake is its own.
    other = SLIP.replace("1754", "2323")
    assert check(s, other, msisdn="13800002333").decision is Decision.RETAKE
    assert check(s, SLIP, RIGHT).decision is Decision.ALLOW
    with store.transaction(write=False) as tx:
        # The check answered retake is not counted towards the staff ID's hourly velocity.
        assert tx.registrations.count_since("staff_id", "ST-1", clock.now().replace(hour=0)) == 1
        assert tx.registrations.granted(ID, clock.now().replace(hour=0)) == {
            "86" + NUMBER: clock.now()}


def test_neither_recording_is_stored(store: SqlStore, tmp_path: Path, clock: FixedClock) -> None:
    s = service(store, tmp_path, clock)
    check(s, SLIP)
    check(s, SLIP, RIGHT)
    engine = store.engine
    dumped = []
    with engine.connect() as conn:
        for t in sa.inspect(conn).get_table_names():
            dumped += [json.dumps([str(v) for v in row], ensure_ascii=False) for row in
                       conn.execute(sa.text(f"SELECT * FROM {t}"))]
    text = "\n".join(dumped)
    assert "1754" in text  # the mismatched part is kept: the search below means something
    for secret in (SLIP, RIGHT, "幺六五四"):
        assert secret not in text
