"""The trace, rules and registrations pages over HTTP (no browser), on the hand-built den lake:
each role's refusals, the trace audited under the user's name with its graph and GraphML,
numbers masked where the role need not see them, the rules with their stored backtest (or
'not backtested'), and the registration checks paged by keyset with the risk ranking."""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.services.denlake import DenLake, write

from telshield.api.app import create_app
from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.regrisk import wilson_lower
from telshield.domain.users import mask_number
from telshield.services.rules import RuleStats, load_rules, record_backtest
from telshield.settings import ApiSettings, RegistrationSettings, Settings
from telshield.wiring import Disposal, disposal

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ROLES = ("admin", "analyst", "disposer", "police", "auditor", "sales")


@dataclass
class Site:
    """The app, its services, one key per role and the lake."""

    app: FastAPI
    d: Disposal
    keys: dict[str, str]
    lake: DenLake


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp: Path = tmp_path_factory.mktemp("insight")
    settings = Settings(  # every registration of the lake counts for the ranking
        data_dir=tmp,
        api=ApiSettings(metrics_port=0),
        registration=RegistrationSettings(risk_min_count=1, risk_days=0),
    )
    lake = write(settings.lake_dir)
    d = disposal(settings)
    keys = {r: d.users.add(r, r, actor="t", unit="PSB" if r == "police" else "")[1] for r in ROLES}
    app = create_app(settings, disposal=d)
    app.state.dens.find(actor="t")  # the real finder stores the lake's den
    reg = app.state.registrations
    for i in range(7):  # registration checks: the sales system's, through the service
        reg.check(
            id_hash=f"{1000 + i:064x}",
            holder_kind="individual",
            channel_id="CH-1" if i % 2 else "CH-2",
            staff_id=f"ST-{i % 3}",
            terminal_id="T-1",
            msisdn=f"86138000100{i:02d}",
            actor="sales",
        )
    at = datetime(2026, 11, 4, 8)  # one of the lake's subscribers alerted: a bad registration
    d.cases.intake(
        [
            Alert(
                lake.office[0],
                0.6,
                Tier.WATCH,
                (Reason("rule:x", "x", "f", 1.0, 0.6),),
                at,
                at,
                rules_version="r1",
                features={},
            )
        ]
    )
    yield Site(app, d, keys, lake)


def login(site: Site, name: str) -> TestClient:
    c = TestClient(site.app)
    token = CSRF.search(c.get("/web/login").text)
    assert token is not None
    r = c.post(
        "/web/login",
        data={"csrf": token.group(1), "name": name, "key": site.keys[name], "next": "/web/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return c


def test_each_role_opens_only_the_pages_its_api_allows(site: Site) -> None:
    may = {  # trace, rules.read, registrations.risk (domain/users.py GRANTS)
        "admin": {"trace", "rules", "registrations"},
        "analyst": {"trace", "rules", "registrations"},
        "disposer": set(),
        "police": {"trace"},
        "auditor": set(),
        "sales": set(),
    }
    n = site.lake.ours[0]
    for role, pages in may.items():
        c = login(site, role)
        for name, path in (
            ("trace", "/web/trace"),
            ("trace", f"/web/trace/{n}"),
            ("trace", f"/web/trace/{n}/links"),
            ("trace", f"/web/trace/{n}/graphml"),
            ("rules", "/web/rules"),
            ("registrations", "/web/registrations"),
        ):
            status = c.get(path).status_code
            assert status == (200 if name in pages else 403), (role, path, status)


def test_trace_page_loads_the_graph_after_the_shell_and_audits_it(site: Site) -> None:
    c = login(site, "analyst")
    n = site.lake.ours[0]
    assert (
        c.get(f"/web/trace?number=%2B{n}", follow_redirects=False).headers["location"]
        == f"/web/trace/{n}"
    )
    shell = c.get(f"/web/trace/{n}").text
    assert f'hx-get="/web/trace/{n}/links?depth=2"' in shell and 'hx-trigger="load"' in shell
    before = len(site.d.audit.events(after=0, limit=10_000, subject=f"msisdn:{n}"))
    whole = c.get(f"/web/trace/{n}/links")  # without JavaScript: the links as a page
    assert whole.status_code == 200 and "<html" in whole.text and 'id="trace-table"' in whole.text
    before += 1
    r = c.get(f"/web/trace/{n}/links", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "<html" not in r.text  # a fragment for htmx
    graph = json.loads(html.unescape(re.search(r'data-chart="([^"]+)"', r.text).group(1)))
    others = set(site.lake.den) - {n}
    ids = {x["id"] for x in graph["nodes"]}
    assert graph["nodes"][0] == {"id": n, "kind": "traced", "strength": 1.0, "traceable": True}
    assert others & ids, "the den's other SIMs are linked"
    assert any(x["kind"] == "den" for x in graph["nodes"])
    assert all(
        e["source"] in ids and e["target"] in ids and 0 < e["strength"] <= 1 for e in graph["edges"]
    )
    assert {e["target"] for e in graph["edges"]} == ids - {n}  # every link has its edge
    rows = re.findall(r'<tr><td>\d+</td><td class="number">', r.text)
    assert len(rows) == len(ids) - 1
    events = site.d.audit.events(after=0, limit=10_000, subject=f"msisdn:{n}")
    assert len(events) == before + 1
    assert events[-1].event.action == "trace" and events[-1].event.actor == "analyst"
    gml = c.get(f"/web/trace/{n}/graphml")
    assert gml.headers["content-type"].startswith("application/graphml+xml")
    assert n in gml.text and "<graphml" in gml.text


def test_trace_refuses_a_bad_number_clearly(site: Site) -> None:
    c = login(site, "analyst")
    assert c.get("/web/trace/12ab").status_code == 422
    assert c.get("/web/trace?number=abc").status_code == 422


def test_rules_page_shows_not_backtested_then_the_stored_backtest(site: Site) -> None:
    c = login(site, "analyst")
    page = c.get("/web/rules").text
    rs = load_rules(None)
    assert rs.version in page
    for r in rs.rules:
        assert f'data-rule="{r.name}"' in page
    assert "尚未回测" in page
    stats = [RuleStats(rs.rules[0].name, 40, 30, 50), RuleStats("* (score >= watch)", 60, 35, 50)]
    record_backtest(
        site.d.store,
        rs.version,
        stats,
        start=datetime(2026, 11, 1),
        end=datetime(2026, 11, 4),
        step="1d",
        label_lag="7d",
        actor="cli:t",
        at=datetime(2026, 11, 5),
    )
    c.get("/web/lang/en")
    page = c.get("/web/rules").text
    row = page[page.index(f'data-rule="{rs.rules[0].name}"') :]
    row = row[: row.index("</tr>")]
    assert "<td>40</td><td>30</td><td>0.750</td><td>0.600</td>" in row
    assert "precision 0.583" in page and "2026-11-01 00:00" in page
    other = page[page.index(f'data-rule="{rs.rules[1].name}"') :]
    assert "not been backtested" in other[: other.index("</tr>")]
    ev = site.d.audit.events(after=0, limit=10_000, subject=f"rules:{rs.version}")
    assert [e.event.action for e in ev] == ["rules.backtest"]


def test_registrations_page_pages_filters_masks_and_ranks(site: Site) -> None:
    c = login(site, "analyst")
    page = c.get("/web/registrations").text
    ids = [int(x) for x in re.findall(r'<tr data-decision="\w+"><td>(\d+)</td>', page)]
    assert ids == sorted(ids, reverse=True) and len(ids) == 7
    assert "8613800010006" in page  # the analyst sees numbers
    ch = c.get("/web/registrations?channel=CH-1").text
    assert len(re.findall(r"<tr data-decision=", ch)) == 3
    st = c.get("/web/registrations?staff=ST-0&decision=allow").text
    assert all(d == "allow" for d in re.findall(r'<tr data-decision="(\w+)"', st))
    retake = c.get("/web/registrations?decision=retake")
    assert retake.status_code == 200
    assert all(d == "retake" for d in re.findall(r'<tr data-decision="(\w+)"', retake.text))
    assert c.get("/web/registrations?decision=maybe").status_code == 422
    subscribers = len(site.lake.ours) + len(site.lake.office) + 2  # the lake's, all CH-X, ST-X
    share, lower = 100 / subscribers, 100 * wilson_lower(1, subscribers)
    for by, key in (("channel", "CH-X"), ("staff", "ST-X")):
        r = c.get(f"/web/registrations?by={by}")
        row = re.search(rf'<tr><th scope="row"><a href="[^"]+">{key}</a></th>(.*?)</tr>', r.text)
        assert row is not None, by
        cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
        assert cells == [str(subscribers), "1", f"{share:.1f}%", f"{lower:.1f}%", "1", "0", "0"]
    assert c.get("/web/registrations?by=terminal").status_code == 200  # none in the lake


def test_registrations_keyset_paging(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    import telshield.web.insight as insight

    monkeypatch.setattr(insight, "PAGE", 3)
    c = login(site, "admin")
    seen: list[int] = []
    url = "/web/registrations"
    while url:
        page = c.get(url).text
        seen += [int(x) for x in re.findall(r'<tr data-decision="\w+"><td>(\d+)</td>', page)]
        nxt = re.search(r'rel="next" href="([^"]+)"', page)
        url = html.unescape(nxt.group(1)) if nxt else ""
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 7


def test_masked_numbers_are_not_links(site: Site) -> None:
    from telshield.web.insight import _graph

    t = site.app.state.trace.trace(site.lake.ours[0], actor="t")
    g = _graph(t, mask_number)  # as a role that need not see numbers gets it
    assert len(g["nodes"]) > 1
    assert all(not n["traceable"] and "*" in n["id"] for n in g["nodes"])
    assert all("*" in e["source"] and "*" in e["target"] for e in g["edges"])


# -- in a real browser (Debian's Chromium, as tests/web/test_browser.py) -----------------------


@pytest.fixture(scope="module")
def served(site: Site) -> Iterator[str]:
    """The site's app served by uvicorn on a loopback port."""
    import threading
    import time

    import uvicorn
    from tests.web.test_browser import _free_port

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(site.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _browser_page(served: str, site: Site, role: str, p: Any, *, bypass_csp: bool = True) -> Any:
    from tests.web.test_browser import ARGS, CHROMIUM

    b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = b.new_context(bypass_csp=bypass_csp).new_page()  # bypass: lets the test inject axe
    page.goto(f"{served}/web/login")
    page.fill("#name", role)
    page.fill("#key", site.keys[role])
    page.click("#login")
    page.wait_for_load_state()
    return page


def _axe(page: Any) -> list[Any]:
    from tests.web.test_browser import AXE

    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.slow
def test_trace_graph_rules_and_registrations_in_a_browser(served: str, site: Site) -> None:
    from tests.web.test_browser import CHROMIUM

    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip("chromium (Debian) not installed; .ci/run installs it, and in CI this runs")
    from playwright.sync_api import sync_playwright

    n = site.lake.ours[0]
    with sync_playwright() as p:
        page = _browser_page(served, site, "analyst", p)
        page.goto(f"{served}/web/trace")
        page.fill("#f-number", n)
        page.click("#trace-go")
        page.wait_for_selector("#trace-graph[data-drawn='1'] canvas", timeout=120_000)
        assert page.locator("#trace-loading").count() == 0  # the fragment replaced it
        drawn = page.evaluate(
            "echarts.getInstanceByDom(document.getElementById('trace-graph'))"
            ".getOption().series[0].data.length"
        )
        assert drawn == page.locator("#trace-table tbody tr").count() + 1
        for lang in ("zh", "en"):
            page.goto(f"{served}/web/lang/{lang}?next=/web/trace/{n}")
            page.wait_for_selector("#trace-graph[data-drawn='1']", timeout=120_000)
            assert not _axe(page), lang
        assert page.locator("h1").inner_text().startswith("Trace a number")
        other = page.locator("#trace-table tbody tr a").first
        target = other.inner_text()
        other.click()  # trace a linked number in turn
        page.wait_for_selector("#trace-graph[data-drawn='1']", timeout=120_000)
        assert page.url.endswith(f"/web/trace/{target}")
        for path in ("/web/rules", "/web/registrations", "/web/registrations?by=channel"):
            for lang in ("zh", "en"):
                page.goto(f"{served}/web/lang/{lang}?next={path.split('?')[0]}")
                page.goto(served + path)
                assert not _axe(page), (path, lang)
        assert page.locator("#checks tbody tr").count() == 7
        page.context.close()


@pytest.mark.slow
def test_county_map_draws_borders_and_a_den_click_opens_it(served: str, site: Site) -> None:
    from tests.web.test_browser import CHROMIUM

    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip("chromium (Debian) not installed; .ci/run installs it, and in CI this runs")
    from playwright.sync_api import sync_playwright

    den = site.app.state.dens.list()[0]  # the den the real finder stored
    with sync_playwright() as p:
        page = _browser_page(served, site, "analyst", p)
        page.goto(f"{served}/web/map")
        page.wait_for_selector("#map-chart[data-drawn='1'] canvas")
        js = "echarts.getInstanceByDom(document.getElementById('map-chart'))"
        regions = page.evaluate(
            f"{js}.getModel().getComponent('geo').coordinateSystem.regions.length"
        )
        assert regions == 96
        county = page.evaluate(
            f"{js}.getModel().getComponent('geo').coordinateSystem"
            f".getRegionByCoord([{den.lon}, {den.lat}]).name"
        )
        assert county == "南京市江宁区"  # where the lake's cells put the den (Jiangning)
        for lang in ("zh", "en"):
            page.goto(f"{served}/web/lang/{lang}?next=/web/map")
            page.wait_for_selector("#map-chart[data-drawn='1'] canvas")
            assert not _axe(page), lang
        page.wait_for_timeout(1200)  # the map's entry animation
        x, y = page.evaluate(f"{js}.convertToPixel({{geoIndex: 0}}, [{den.lon}, {den.lat}])")
        box = page.locator("#map-chart").bounding_box()
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.wait_for_url(f"**/web/dens/{den.id}")
        page.context.close()


@pytest.mark.slow
def test_graph_and_map_draw_under_the_pages_own_csp(served: str, site: Site) -> None:
    from tests.web.test_browser import CHROMIUM

    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip("chromium (Debian) not installed; .ci/run installs it, and in CI this runs")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        page = _browser_page(served, site, "analyst", p, bypass_csp=False)
        refused: list[str] = []
        page.on(
            "console", lambda m: refused.append(m.text) if "Content Security" in m.text else None
        )
        page.goto(f"{served}/web/trace/{site.lake.ours[0]}")
        page.wait_for_selector("#trace-graph[data-drawn='1'] canvas", timeout=120_000)
        page.goto(f"{served}/web/map")
        page.wait_for_selector("#map-chart[data-drawn='1'] canvas")
        assert refused == []
        page.context.close()
