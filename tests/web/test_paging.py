"""Deep pages without OFFSET: the alert queue pages on by the last id seen, a list diff shows a
page of each side with its total, and the chain check says how much it re-hashed."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from tests.web.conftest import World
from tests.web.test_pages import login

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.lists import ListEntry
from telshield.domain.paging import Page
from telshield.web.pages import DIFF_PAGE, PAGE

NEXT = re.compile(r'rel="next" href="([^"]+)"')
ROW = re.compile(r'<tr><td>(\d+)</td><td class="number">')


def test_the_alert_queue_pages_by_the_last_id(world: World) -> None:
    at = datetime(2026, 3, 1, 7)
    reasons = (Reason("rule:many_strangers", "calls many strangers", "distinct_callees", 40.0),)
    with world.d.store.transaction() as tx:
        tx.alerts.upsert([Alert(f"86137{i:08d}", 0.5, Tier.VERIFY, reasons,
                                at - timedelta(minutes=i), at) for i in range(PAGE * 2 + 7)])
    every = [a.id for a in world.d.cases.alerts(page=Page(1000, 0))]
    c = login(world, "analyst")
    seen: list[int] = []
    path = "/web/alerts"
    pages = 0
    while path:
        html = c.get(path.replace("&amp;", "&")).text
        seen += [int(x) for x in ROW.findall(html)]
        m = NEXT.search(html)
        path = m.group(1) if m else ""
        pages += 1
    assert pages == 3 and seen == every  # every alert once, newest first, no gap
    assert "before=" in c.get("/web/alerts").text
    assert c.get("/web/alerts?before=0").status_code == 422


def test_a_list_diff_is_paged_with_its_totals(world: World) -> None:
    now = datetime(2026, 3, 1, 9)
    entries = [ListEntry.new("number", f"86135{i:08d}", "black", source="manual", reason="bulk",
                             actor="t", at=now) for i in range(DIFF_PAGE + 20)]
    with world.d.store.transaction() as tx:
        v = tx.lists.new_version(actor="t", note="bulk", at=now)
        tx.lists.add(entries, v)
    c = login(world, "analyst")
    html = c.get(f"/web/lists?from_version={v - 1}&to_version={v}").text
    assert f'id="diff-added-total">{DIFF_PAGE + 20}<' in html
    assert 'id="diff-removed-total">0<' in html
    first = html.count("86135")
    m = re.search(r'id="diff-added-next" href="([^"]+)"', html)
    assert m is not None and first >= DIFF_PAGE
    rest = c.get(m.group(1).replace("&amp;", "&")).text
    assert 'id="diff-added-next"' not in rest and f'id="diff-added-total">{DIFF_PAGE + 20}<' in rest
    full = world.d.lists.diff(v - 1, v)
    assert f"86135{DIFF_PAGE + 19:08d}" in rest and full.added[-1].value in rest
    # The API pages the same way when asked for a limit.
    api = c.get(f"/lists/diff?from_version={v - 1}&to_version={v}&limit=7",
                headers={"X-API-Key": world.keys["analyst"]}).json()
    assert len(api["added"]) == 7 and api["added_total"] == DIFF_PAGE + 20
    assert api["next_added"] == full.added[6].id


def test_the_chain_check_says_what_it_rehashed(world: World) -> None:
    c = login(world, "auditor")
    html = c.get("/web/audit/verify").text
    # No checkpoint yet: the whole chain is re-hashed, and the page says so.
    assert 'id="chain-ok"' in html and "整条链已重算" in html and 'id="verify-full"' not in html
    assert "整条链已重算" in c.get("/web/audit/verify?full=1").text
    assert c.get("/web/audit/verify?full=2").status_code == 422
