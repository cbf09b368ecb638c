"""Devices: other numbers that cold-called from a number's phone before it."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
from tests.detect.calls import calls_before

from telshield.detect.devices import device_features

UNTIL = datetime(2026, 11, 10, 12)
SINCE = UNTIL - timedelta(days=7)
OLD_SIM, NEW_SIM = "8613900000001", "8613900000002"  # a crew's SIMs, one phone
PERSON, NEW_NUMBER = "8613800000001", "8613800000002"  # someone's old and new number, one phone
FRIEND = "8613700000000"


def _features(rows: list[tuple[float, str, str]], imei_of: dict[str, str],
              **kw: object) -> dict[str, int]:
    calls = calls_before(UNTIL, [(h, a, b, "radio", "C1") for h, a, b in rows], 30, imei_of)
    got = ibis.duckdb.connect().execute(
        device_features(calls, until=UNTIL, since=SINCE, **kw))  # type: ignore[arg-type]
    return dict(zip(got["msisdn"], got["device_cold_predecessors"], strict=True))


def _cold(caller: str, first_h: float, n: int, tag: str) -> list[tuple[float, str, str]]:
    """``n`` strangers called one after another from ``first_h`` hours before UNTIL."""
    return [(first_h - k / 10, caller, f"86136{tag}{k:06d}") for k in range(n)]


def test_a_new_sim_in_a_cold_callers_phone_counts_it() -> None:
    rows = _cold(OLD_SIM, 200, 12, "01") + _cold(NEW_SIM, 30, 3, "02")
    got = _features(rows, {OLD_SIM: "35000000000001", NEW_SIM: "35000000000001"})
    assert got[NEW_SIM] == 1
    assert got.get(OLD_SIM, 0) == 0  # the first SIM in the phone has no predecessor


def test_an_honest_predecessor_is_not_counted() -> None:
    # The person's old number was called back by its circle: not a cold caller.
    rows = _cold(PERSON, 200, 12, "03") + [(199, f"8613603{k:06d}", PERSON) for k in range(4)]
    rows += _cold(NEW_NUMBER, 30, 3, "04")
    got = _features(rows, {PERSON: "35000000000002", NEW_NUMBER: "35000000000002"})
    assert got.get(NEW_NUMBER, 0) == 0


def test_too_few_strangers_or_another_phone_is_not_counted() -> None:
    rows = _cold(OLD_SIM, 200, 9, "05") + _cold(NEW_SIM, 30, 3, "06")  # 9 < 10 callees
    assert _features(rows, {OLD_SIM: "35000000000003", NEW_SIM: "35000000000003"}).get(
        NEW_SIM, 0) == 0
    rows = _cold(OLD_SIM, 200, 12, "07") + _cold(NEW_SIM, 30, 3, "08")
    assert _features(rows, {OLD_SIM: "35000000000004", NEW_SIM: "35000000000005"}).get(
        NEW_SIM, 0) == 0


def test_a_predecessor_long_gone_or_a_later_user_is_not_counted() -> None:
    # The cold caller left the phone 20 days before the new SIM's first call (gap 14 days).
    rows = _cold(OLD_SIM, 30 + 20 * 24, 12, "09") + _cold(NEW_SIM, 30, 3, "10")
    got = _features(rows, {OLD_SIM: "35000000000006", NEW_SIM: "35000000000006"})
    assert got.get(NEW_SIM, 0) == 0
    # A cold caller that came to the phone after the number is its successor, not predecessor.
    rows = _cold(NEW_SIM, 200, 3, "11") + _cold(OLD_SIM, 30, 12, "12")
    got = _features(rows, {OLD_SIM: "35000000000007", NEW_SIM: "35000000000007"})
    assert got.get(NEW_SIM, 0) == 0 and got.get(OLD_SIM, 0) == 0


def test_only_numbers_active_since_are_rows() -> None:
    rows = _cold(OLD_SIM, 24 * 9, 12, "13") + _cold(NEW_SIM, 24 * 8, 3, "14")
    got = _features(rows, {OLD_SIM: "35000000000008", NEW_SIM: "35000000000008"})
    assert NEW_SIM not in got  # its calls are all before SINCE
