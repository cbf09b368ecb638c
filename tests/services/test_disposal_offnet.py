"""Disposal acts only on our own subscribers: numbers we do not hold (other operators' mobiles,
landlines, service numbers, foreign numbers) get a screening entry and a report line for their
operator instead of re-verification, restriction, suspension, BSS commands and texts."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.lists import Colour
from telshield.domain.paging import Page
from telshield.services.audit import AuditService
from telshield.services.offnet import describe
from telshield.services.store import FixedClock
from telshield.settings import Settings
from telshield.store.sql import SqlStore
from telshield.wiring.disposal import Disposal, disposal, holders

from .feeds import write_feed

T0 = datetime(2026, 11, 3, 9)
OURS = [f"86139{i:08d}" for i in range(42)]
CANCELLED = "8613912345678"  # was ours, cancelled: no longer ours
UNICOM, TELECOM = "8613000000001", "8618900000001"
LANDLINE, BANK, ABROAD = "862584001234", "8695588", "85291234567"
FOREIGN_PROVINCE = "8613800000009"  # China Mobile, but not registered with us
NOT_OURS = [CANCELLED, UNICOM, TELECOM, LANDLINE, BANK, ABROAD, FOREIGN_PROVINCE]
SCORES = {Tier.WATCH: 0.55, Tier.VERIFY: 0.75, Tier.SUSPEND: 0.95}


def _alert(n: str, tier: Tier, at: datetime, *codes: str) -> Alert:
    return Alert(n, SCORES[tier], tier, tuple(Reason(c, c) for c in codes or ("rule:x",)), at, at)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose lake registers OURS (and CANCELLED, cancelled) with us."""
    root = tmp_path_factory.mktemp("data")
    rows = [{"msisdn": n, "imsi": f"46000{i:010d}", "id_hash": "a" * 64,
             "holder_kind": "individual", "registered_at": T0 - timedelta(days=90),
             "channel_id": "CH1", "staff_id": "S1", "status": "active"}
            for i, n in enumerate([*OURS, CANCELLED])]
    rows.append({**rows[-1], "registered_at": T0 - timedelta(days=10), "status": "cancelled"})
    write_feed(Settings(data_dir=root).lake_dir, "subscribers", rows)
    return root


@pytest.fixture
def d(store: SqlStore, data_dir: Path) -> Disposal:
    return disposal(Settings(data_dir=data_dir), store=store, clock=FixedClock(T0))


def _tiers(numbers: list[str]) -> dict[str, Tier]:
    cycle = (Tier.SUSPEND, Tier.VERIFY, Tier.WATCH)
    return {n: cycle[i % 3] for i, n in enumerate(numbers)}


def test_only_our_own_subscribers_are_disposed_of(d: Disposal, store: SqlStore) -> None:
    tiers = _tiers(OURS + NOT_OURS)
    run = d.cases.intake([_alert(n, t, T0) for n, t in tiers.items()])
    assert run.offnet == len(NOT_OURS)
    with store.transaction(write=False) as tx:
        commanded = {c.msisdn for c in tx.outbox.find(page=_all())}
    assert commanded and commanded <= set(OURS)  # no command or text to a number not ours
    assert {c.msisdn for c in d.cases.find(page=_all())} == set(OURS)
    entries = {e.value: e for e in d.lists.find(source="detection", page=_all())}
    assert set(entries) == set(NOT_OURS)
    for n in NOT_OURS:
        want = Colour.GREY if tiers[n] is Tier.WATCH else Colour.BLACK
        assert entries[n].colour is want, n
        assert entries[n].expires_at == T0 + timedelta(days=30)
    lines = {x.msisdn: x for x in d.cases.offnet(page=_all())}
    assert set(lines) == set(NOT_OURS)
    assert lines[UNICOM].party == "china_unicom" and lines[UNICOM].kind == "mobile"
    assert lines[TELECOM].party == "china_telecom"
    assert lines[BANK].kind == "service" and lines[BANK].label == "ICBC"
    assert lines[ABROAD].party == "international:HK"
    assert lines[LANDLINE].kind == "fixed" and lines[LANDLINE].region == "Jiangsu"
    assert lines[FOREIGN_PROVINCE].party == "china_mobile"
    assert all(x.list_entry_id == entries[n].id for n, x in lines.items())
    assert AuditService(store).verify().ok


def test_offnet_lines_are_updated_in_place_and_never_weakened(d: Disposal) -> None:
    d.cases.intake([_alert(UNICOM, Tier.WATCH, T0), _alert(BANK, Tier.SUSPEND, T0)])
    version = d.lists.current_version()
    # The same alerts again: nothing new to list, no second report line.
    d.cases.intake([_alert(UNICOM, Tier.WATCH, T0), _alert(BANK, Tier.SUSPEND, T0)])
    (label,) = d.lists.find(value=UNICOM, source="detection")
    assert label.colour is Colour.GREY
    assert d.lists.current_version() == version and len(d.cases.offnet()) == 2
    # Stronger evidence turns the label into a block; a weaker alert leaves the block.
    d.cases.intake([_alert(UNICOM, Tier.SUSPEND, T0, "rule:x", "rule:y"),
                    _alert(BANK, Tier.WATCH, T0)])
    (unicom,) = d.lists.find(value=UNICOM, source="detection")
    (bank,) = d.lists.find(value=BANK, source="detection")
    assert unicom.colour is Colour.BLACK and bank.colour is Colour.BLACK
    lines = {x.msisdn: x for x in d.cases.offnet()}
    assert len(lines) == 2 and lines[UNICOM].tier == "suspend" and lines[BANK].tier == "suspend"
    assert lines[UNICOM].reasons == ("rule:x", "rule:y")
    assert d.cases.offnet_screening(lines[UNICOM]) == "block"
    assert d.cases.offnet(party="china_unicom")[0].msisdn == UNICOM


@pytest.mark.parametrize(("tier_verify", "at_verify"), [
    ("reject", Colour.BLACK), ("label", Colour.GREY), ("warn_callee", Colour.GREY)])
def test_offnet_numbers_at_verify_are_blocked_as_screening_treats_ours(
    store: SqlStore, data_dir: Path, tier_verify: str, at_verify: Colour
) -> None:
    """Off-net numbers at verify get what screening gives our own numbers under re-verification:
    a block where it rejects them, a label where it only labels or warns; suspend always
    blocks, watch always labels."""
    settings = Settings(data_dir=data_dir, screening={"tier_verify": tier_verify})
    d = disposal(settings, store=store, clock=FixedClock(T0))
    d.cases.intake([_alert(UNICOM, Tier.VERIFY, T0), _alert(TELECOM, Tier.SUSPEND, T0),
                    _alert(LANDLINE, Tier.WATCH, T0)])
    colour = {e.value: e.colour for e in d.lists.find(source="detection", page=_all())}
    assert colour == {UNICOM: at_verify, TELECOM: Colour.BLACK, LANDLINE: Colour.GREY}
    screening = {x.msisdn: d.cases.offnet_screening(x) for x in d.cases.offnet(page=_all())}
    assert screening == {UNICOM: "block" if at_verify is Colour.BLACK else "label",
                         TELECOM: "block", LANDLINE: "label"}
    out = io.StringIO()
    d.cases.export_offnet(out, party="china_unicom")
    assert f",verify,0.750,{screening[UNICOM]}," in out.getvalue()


def test_offnet_blocking_starts_at_verify_or_suspend_only() -> None:
    from telshield.domain.cases import offnet_block_from, offnet_blocks
    from telshield.domain.errors import InvalidInput
    from telshield.wiring.disposal import offnet_block_from as from_settings

    assert offnet_block_from(True) == "verify" and offnet_block_from(False) == "suspend"
    assert [offnet_blocks(t, "verify") for t in ("watch", "verify", "suspend")] == [
        False, True, True]
    assert [offnet_blocks(t, "suspend") for t in ("watch", "verify", "suspend")] == [
        False, False, True]
    with pytest.raises(InvalidInput, match="verify"):
        offnet_blocks("suspend", "watch")  # watch always labels
    assert from_settings(Settings()) == "verify"  # screening rejects at verify by default
    with pytest.raises(InvalidInput, match="tier outcome"):
        from_settings(Settings(screening={"tier_verify": "drop"}))


def test_offnet_export_is_one_csv_line_per_number(d: Disposal) -> None:
    d.cases.intake([_alert(UNICOM, Tier.SUSPEND, T0), _alert(TELECOM, Tier.WATCH, T0)])
    out = io.StringIO()
    assert d.cases.export_offnet(out, party="china_telecom") == 1
    header, line = out.getvalue().splitlines()
    assert header.startswith("operator,msisdn,")
    assert line.startswith(f"china_telecom,{TELECOM},mobile,") and ",label," in line


def test_without_a_subscribers_feed_our_segments_count_as_ours(tmp_path: Path,
                                                              data_dir: Path) -> None:
    s = Settings(data_dir=data_dir)
    h = holders(s, lake=tmp_path / "empty-lake")  # no subscribers ingested: the plan decides
    got = h.of(["8613900000001", UNICOM])
    assert not got[UNICOM].own
    jiangsu = next(n for n in (f"86139{i:04d}0000" for i in range(5000))
                   if describe(n, h.plan).region == "Jiangsu")
    assert h.of([jiangsu])[jiangsu].own


def _all() -> Page:
    return Page(10_000)


def test_cases_offnet_command_lists_and_exports(data_dir: Path, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from telshield.cli.cases import register

    app = typer.Typer()
    register(app)

    s = Settings(data_dir=data_dir)
    disposal(s, clock=FixedClock(T0)).cases.intake(
        [_alert(UNICOM, Tier.SUSPEND, T0), _alert(OURS[0], Tier.SUSPEND, T0)])
    run = CliRunner().invoke(app, ["cases", "offnet", "--data-dir", str(data_dir)])
    assert run.exit_code == 0, run.output
    assert UNICOM in run.output and OURS[0] not in run.output  # numbers are never cut
    out = tmp_path / "offnet.csv"
    run = CliRunner().invoke(app, ["cases", "offnet", "--operator", "china_unicom", "--since",
                                   "2026-11-03", "--csv", str(out), "--data-dir", str(data_dir)])
    assert run.exit_code == 0, run.output
    assert len(out.read_text().splitlines()) == 2
    bad = CliRunner().invoke(app, ["cases", "offnet", "--since", "yesterday", "--data-dir",
                                   str(data_dir)])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_a_bulk_disposal_refuses_numbers_we_do_not_hold(store: SqlStore) -> None:
    from telshield.domain.cases import ActionKind, Policy
    from telshield.domain.errors import Conflict
    from telshield.services.cases import CaseService
    from telshield.services.offnet import InMemoryHolders

    cases = CaseService(store, FixedClock(T0), Policy(), holders=InMemoryHolders(OURS))
    with pytest.raises(Conflict, match=r"not our subscribers, e.g. 8613000000001"):
        cases.bulk([OURS[0], UNICOM], ActionKind.SUSPEND, actor="bob", reason="den 3")
    assert cases.find() == []  # nothing was changed
    assert cases.bulk(OURS[:3], ActionKind.SUSPEND, actor="bob", reason="den 3").moved == 3
