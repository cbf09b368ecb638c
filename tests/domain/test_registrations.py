"""The registration check's rules as pure functions: each rule allows, verifies or refuses at
its setting, and a raw ID number is refused without being repeated."""

from __future__ import annotations

from datetime import datetime

import pytest

from telshield.domain.errors import InvalidInput
from telshield.domain.registrations import (
    CheckRequest,
    Decision,
    Facts,
    Limits,
    Order,
    Sanction,
    decide,
    judge,
)

AT = datetime(2026, 3, 1, 9)
H = "ab" * 32
RAW = "11010519491231002X"


def req(**order: str) -> CheckRequest:
    return CheckRequest.new(id_hash=H, holder_kind="individual", channel_id="CH-1",
                            staff_id="ST-1", terminal_id="T-1", msisdn="13800000009",
                            order=Order.new(**order))


def facts(**kw: object) -> Facts:
    base: dict[str, object] = {"held": frozenset(), "cards_30d": 0, "staff_hour": 0,
                               "terminal_hour": 0, "order_24h": {}}
    return Facts(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [RAW, "110105194912310021", "110105491231002",
                                 "11010519491231002x"])
def test_a_raw_id_number_is_refused_and_not_repeated(raw: str) -> None:
    with pytest.raises(InvalidInput) as e:
        CheckRequest.new(id_hash=raw, holder_kind="individual", channel_id="c", staff_id="s",
                         terminal_id="", msisdn="8613800000001")
    assert raw not in str(e.value) and raw.upper() not in str(e.value)
    assert "raw ID" in str(e.value)


def test_fields_are_checked() -> None:
    assert req().msisdn == "8613800000009"
    assert req().id_hash == H
    with pytest.raises(InvalidInput):
        CheckRequest.new(id_hash="AB" * 31, holder_kind="individual", channel_id="c",
                         staff_id="s", terminal_id="", msisdn="8613800000001")
    with pytest.raises(InvalidInput):
        CheckRequest.new(id_hash=H, holder_kind="robot", channel_id="c", staff_id="s",
                         terminal_id="", msisdn="8613800000001")
    with pytest.raises(InvalidInput):
        CheckRequest.new(id_hash=H, holder_kind="iot", channel_id="c", staff_id="",
                         terminal_id="", msisdn="8613800000001")
    with pytest.raises(InvalidInput):
        Order.new(address_hash=RAW)


L = Limits(cards_per_id=3, cards_30d_verify=2, staff_hour_verify=5, staff_hour_refuse=10,
           terminal_hour_verify=5, terminal_hour_refuse=10, order_24h_verify=2)
THREE = frozenset({"8613800000001", "8613800000002", "8613800000003"})
TWO = frozenset({"8613800000001", "8613800000002"})


@pytest.mark.parametrize(("f", "order", "decision", "codes"), [
    (facts(), {}, Decision.ALLOW, []),
    (facts(held=TWO), {}, Decision.ALLOW, []),
    (facts(held=THREE), {}, Decision.REFUSE, ["card_limit"]),
    (facts(held=TWO | {"8613800000009"}), {}, Decision.ALLOW, []),  # the number is held already
    (facts(cards_30d=2), {}, Decision.VERIFY, ["cards_30d"]),
    (facts(cards_30d=1), {}, Decision.ALLOW, []),
    (facts(staff_hour=5), {}, Decision.VERIFY, ["staff_bulk"]),
    (facts(staff_hour=4), {}, Decision.ALLOW, []),
    (facts(staff_hour=10), {}, Decision.REFUSE, ["staff_bulk"]),
    (facts(terminal_hour=5), {}, Decision.VERIFY, ["terminal_bulk"]),
    (facts(terminal_hour=10), {}, Decision.REFUSE, ["terminal_bulk"]),
    (facts(order_24h={"ip": 2, "device_id": 1}), {"ip": "1.2.3.4", "device_id": "d"},
     Decision.VERIFY, ["order_ip"]),
    (facts(staff_suspended="sold cards"), {}, Decision.REFUSE, ["staff_suspended"]),
    (facts(sanctions=(Sanction(H, "Jiangsu PSB", datetime(2028, 6, 1)),)), {},
     Decision.REFUSE, ["sanctioned"]),
    (facts(sanctions=(Sanction(H, "Jiangsu PSB", datetime(2026, 1, 1)),)), {},
     Decision.ALLOW, []),  # ended
    (facts(sanctions=(Sanction(H, "Jiangsu PSB", datetime(2028, 1, 1), "", datetime(2027, 1,
                                                                                    1)),)), {},
     Decision.ALLOW, []),  # not yet begun
    (facts(cards_30d=2, held=THREE), {}, Decision.REFUSE, ["card_limit", "cards_30d"]),
])
def test_rules(f: Facts, order: dict[str, str], decision: Decision, codes: list[str]) -> None:
    reasons = judge(req(**order), f, L, AT)
    assert decide(reasons) is decision
    assert [r.code for r in reasons] == codes


def test_sanction_reason_names_authority_and_end() -> None:
    f = facts(sanctions=(Sanction(H, "Jiangsu PSB", datetime(2028, 6, 1)),))
    (r,) = judge(req(), f, L, AT)
    assert "Jiangsu PSB" in r.text and "2028-06-01" in r.text
