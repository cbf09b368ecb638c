"""The enterprise whitelist caps detection: an industry card or a registered telemarketing number
is held at the watch tier, saying whose it is and until when, unless a police clue names it;
an expired registration holds nothing. Run on both whitelists detection may be given: the
store's lists and the in-memory one."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pandas as pd
import pytest
from tests.toy import START, make_toy

from telshield.domain.alerts import Alert, Tier
from telshield.domain.clock import feed_to_store
from telshield.domain.lists import ListEntry
from telshield.services.alerts import InMemoryAlertSink
from telshield.services.detection import DetectConfig, Detector, InMemoryWhitelist, Whitelist
from telshield.services.lakeread import FeedReader
from telshield.services.lists import ListService
from telshield.services.rules import load_rules
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore

from .feeds import write_feed

AT = START + timedelta(days=6)  # the run: every fraud SIM of the toy has called by then
TERM = AT + timedelta(days=30)


@dataclass(frozen=True)
class Run:
    """A toy province's detector (no whitelist), its scored frame at ``AT`` and its alerts,
    with a police clue added for one of the numbers it suspects most."""

    det: Detector
    frame: pd.DataFrame
    plain: dict[str, Alert]
    strong: list[str]  # verify or above, no clue
    clued: str  # verify or above, named by a clue before AT
    weak: str  # watch, no clue


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    toy = make_toy(normal=150, couriers=10, fraud=10, days=6, quiet_days=3)
    root = tmp_path_factory.mktemp("whitelist") / "lake"
    toy.write(root)
    det = Detector(FeedReader(root), InMemoryAlertSink(), DetectConfig(), load_rules(None),
                   clock=lambda: AT)
    frame = det.score(det.features(AT))
    plain = _by_number(det.alerts(frame, AT))
    named = {str(c["msisdn"]) for c in toy.feeds["clues"].to_pylist()}
    strong = sorted(n for n, a in plain.items() if a.tier is not Tier.WATCH and n not in named)
    weak = sorted(n for n, a in plain.items() if a.tier is Tier.WATCH and n not in named)
    assert len(strong) >= 2 and weak, "the toy must give both tiers"
    write_feed(root, "clues", [{"clue_id": "K99", "reported_at": AT - timedelta(hours=3),
                                "msisdn": strong[-1], "case_ref": "R99",
                                "fraud_type": "impersonation", "unit": "U"}],
               name=f"day={AT - timedelta(hours=3):%Y-%m-%d}/extra")
    return Run(det, frame, plain, strong[:-1], strong[-1], weak[0])


def _by_number(alerts: list[Alert]) -> dict[str, Alert]:
    return {a.msisdn: a for a in alerts}


@pytest.fixture(params=["store", "memory"])
def whitelist_of(request: pytest.FixtureRequest, store: SqlStore,
                 clock: FixedClock) -> object:
    """Makes a whitelist of (number, owner, expiry) registrations, on one implementation."""
    def make(rows: list[tuple[str, str, datetime]]) -> Whitelist:
        if request.param == "store":
            lists = ListService(store, clock)
            for n, owner, until in rows:
                lists.add("number", n, "white", source="manual", reason="industry card",
                          actor="ann", owner=owner, expires_at=until)
            return lists
        return InMemoryWhitelist([
            ListEntry.new("number", n, "white", source="manual", reason="industry card",
                          actor="ann", at=clock.at, owner=owner, expires_at=until)
            for n, owner, until in rows])
    return make


def test_whitelisted_numbers_are_held_at_watch_unless_a_clue_names_them(
    run: Run, whitelist_of: object
) -> None:
    det, plain = run.det, run.plain
    office, card, lapsed = run.strong[0], run.clued, run.weak
    make = whitelist_of
    assert callable(make)
    whitelist = make([(office, "Sunrise Telemarketing", TERM),
                      # Lapsed an hour before the run: expiries are store time (UTC), the
                      # run's moment feed time (China Standard Time, eight hours ahead).
                      (lapsed, "Old Registrations Ltd", feed_to_store(AT) - timedelta(hours=1)),
                      (card, "Yangtze Logistics", TERM)])
    got = _by_number(replace(det, whitelist=whitelist).alerts(run.frame, AT))

    # The office's number: watch, at the watch threshold, saying whose and until when.
    a = got[office]
    assert plain[office].tier is not Tier.WATCH
    assert a.tier is Tier.WATCH and a.score == det.config.watch
    (held,) = [r for r in a.reasons if r.code == "cap:whitelist"]
    assert held.text.startswith(f"whitelisted: Sunrise Telemarketing until {TERM:%Y-%m-%d}")
    assert f"score {plain[office].score:.2f} held at watch" in held.text
    assert held.value == pytest.approx(plain[office].score, abs=1e-4)
    assert {r.code for r in plain[office].reasons} < {r.code for r in a.reasons}
    # A registration that has expired holds nothing back.
    assert got[lapsed] == plain[lapsed]
    # A police clue names the card: its tier stands, and the alert says it is whitelisted.
    assert plain[card].tier is not Tier.WATCH
    assert (got[card].tier, got[card].score) == (plain[card].tier, plain[card].score)
    assert [r.text for r in got[card].reasons if r.code == "whitelist:clue"] == [
        f"whitelisted: Yangtze Logistics until {TERM:%Y-%m-%d}, but a police clue names it: "
        "not held at watch"]
    # Nobody else changes.
    rest = set(plain) - {office, lapsed, card}
    assert {n: got[n] for n in rest} == {n: plain[n] for n in rest}


def test_a_whitelisted_number_below_watch_stays_unalerted(run: Run) -> None:
    """The cap lowers, never raises: a registered number the rules do not suspect gets no
    alert for being registered."""
    quiet = next(str(n) for n in run.frame["msisdn"] if str(n) not in run.plain)
    entry = ListEntry.new("number", quiet, "white", source="manual", reason="industry card",
                          actor="ann", at=START, owner="Acme", expires_at=TERM)
    got = _by_number(replace(run.det, whitelist=InMemoryWhitelist([entry])).alerts(run.frame, AT))
    assert quiet not in got and got == run.plain


def test_an_expiry_is_read_in_store_time(run: Run) -> None:
    """An entry that expires three hours after the run (UTC) still caps, although its expiry,
    read as China time, would be five hours before it (the run's moment is feed time)."""
    office = run.strong[0]
    expires = feed_to_store(AT) + timedelta(hours=3)
    assert expires < AT  # the two clocks disagree on this entry
    entry = ListEntry.new("number", office, "white", source="manual", reason="industry card",
                          actor="ann", at=START - timedelta(days=1), owner="Acme",
                          expires_at=expires)
    got = _by_number(replace(run.det, whitelist=InMemoryWhitelist([entry])).alerts(run.frame, AT))
    assert got[office].tier is Tier.WATCH
    assert run.plain[office].tier is not Tier.WATCH
