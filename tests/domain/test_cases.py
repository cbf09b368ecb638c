"""The case state machine, appeals and the disposal policy, without a database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from telshield.domain.cases import (
    ActionKind,
    Appeal,
    AppealStatus,
    Case,
    CaseStatus,
    CommandKind,
    Policy,
    commands_for,
    parse_action,
)
from telshield.domain.errors import Conflict, InvalidInput

T0 = datetime(2026, 3, 1, 9)
S = CaseStatus

LEGAL = {
    (S.OPEN, S.VERIFYING), (S.OPEN, S.RESTRICTED), (S.OPEN, S.SUSPENDED), (S.OPEN, S.RELEASED),
    (S.OPEN, S.CONFIRMED), (S.VERIFYING, S.RESTRICTED), (S.VERIFYING, S.SUSPENDED),
    (S.VERIFYING, S.RELEASED), (S.VERIFYING, S.CONFIRMED), (S.RESTRICTED, S.VERIFYING),
    (S.RESTRICTED, S.SUSPENDED), (S.RESTRICTED, S.RELEASED), (S.RESTRICTED, S.CONFIRMED),
    (S.SUSPENDED, S.RELEASED), (S.SUSPENDED, S.CONFIRMED), (S.CONFIRMED, S.RELEASED),
}


@pytest.mark.parametrize("frm", list(S))
@pytest.mark.parametrize("to", list(S))
def test_every_transition(frm: CaseStatus, to: CaseStatus) -> None:
    case = Case("8613812345678", frm, "verify", T0, T0, id=7)
    if (frm, to) in LEGAL:
        moved = case.move_to(to, at=T0 + timedelta(hours=1))
        assert moved.status is to and moved.updated_at == T0 + timedelta(hours=1)
    else:
        with pytest.raises(Conflict, match="case 7"):
            case.move_to(to, at=T0)


def test_released_is_final_and_says_so() -> None:
    case = Case("8613812345678", S.RELEASED, "verify", T0, T0, id=3)
    with pytest.raises(Conflict, match="closed"):
        case.move_to(S.SUSPENDED, at=T0)


def test_unknown_action() -> None:
    with pytest.raises(InvalidInput, match="verify"):
        parse_action("nuke")


def test_appeal_is_decided_once() -> None:
    a = Appeal(1, "I was abroad", ("passport.pdf",), T0, "clerk", id=5)
    passed = a.decide(True, by="boss", at=T0, reason="documents check out")
    assert passed.status is AppealStatus.PASSED
    with pytest.raises(Conflict):
        passed.decide(False, by="boss", at=T0, reason="again")


@pytest.mark.parametrize(
    ("frm", "to", "expected"),
    [
        (S.OPEN, S.VERIFYING, (CommandKind.NOTIFY,)),
        (S.VERIFYING, S.RESTRICTED, (CommandKind.RESTRICT, CommandKind.NOTIFY)),
        (S.RESTRICTED, S.SUSPENDED, (CommandKind.SUSPEND, CommandKind.NOTIFY)),
        (S.SUSPENDED, S.CONFIRMED, ()),
        (S.SUSPENDED, S.RELEASED, (CommandKind.RELEASE, CommandKind.NOTIFY)),
        (S.VERIFYING, S.RELEASED, (CommandKind.NOTIFY,)),
    ],
)
def test_commands_for_moves(frm: CaseStatus, to: CaseStatus,
                            expected: tuple[CommandKind, ...]) -> None:
    assert commands_for(frm, to) == expected


def test_policy_maps_tiers_deadlines_and_notices() -> None:
    p = Policy()
    assert p.action_for("watch") is None
    assert p.action_for("verify") is ActionKind.VERIFY
    assert p.action_for("suspend") is ActionKind.RESTRICT
    assert p.deadline(ActionKind.VERIFY, T0) == T0 + timedelta(hours=24)
    assert p.deadline(ActionKind.SUSPEND, T0) is None
    text = p.notice(ActionKind.RESTRICT, "138****5678", "calls to many strangers")
    assert "calls to many strangers" in text and p.appeal_channel in text and "Art. 32" in text
    assert "24 h" in p.notice(ActionKind.VERIFY, "138****5678", "x")
