"""The area pages over HTTP (no browser): dens found by the real finder on a hand-built lake,
a stored gang and police requests; each role's refusals, masking, bulk disposal through the
services with audit, the police inbox's SLA timers and maker-checker refusal."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.services.denlake import DenLake, write

from telshield.api.app import create_app
from telshield.domain.dens import den_ref
from telshield.domain.gangs import Gang, GangLink, GangMember, Signals
from telshield.domain.police import PoliceRequest
from telshield.domain.users import mask_number
from telshield.settings import ApiSettings, Settings
from telshield.wiring import Disposal, disposal

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ROLES = ("admin", "analyst", "disposer", "police", "auditor", "sales")


@dataclass
class Area:
    """The app, its services, one key per role, the lake's den and the stored gang's id."""

    app: FastAPI
    d: Disposal
    keys: dict[str, str]
    lake: DenLake
    den_id: int
    gang_id: int


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Area]:
    tmp: Path = tmp_path_factory.mktemp("areas")
    settings = Settings(data_dir=tmp, api=ApiSettings(metrics_port=0))
    lake = write(settings.lake_dir)
    cards = lake.office[:3]  # our subscribers (the lake's subscribers feed), in no den
    d = disposal(settings)
    keys = {r: d.users.add(r, r, actor="t", unit="PSB" if r == "police" else "")[1]
            for r in ROLES}
    keys["disposer2"] = d.users.add("disposer2", "disposer", actor="t")[1]
    app = create_app(settings, disposal=d)
    den = app.state.dens.find(actor="t").dens[0]  # the real finder on the lake
    at = datetime(2026, 3, 1, 8)
    members = tuple(GangMember(m, f"{i:064x}", "CH1", "S1", at, ("same_id",))
                    for i, m in enumerate(cards))
    gang = Gang(score=0.9, members=members,
                links=(GangLink(cards[0], cards[1], ("same_id",), 1.0),),
                signals=Signals(cards=3, ids=1, bulk_share=1.0, cross_share=0.0,
                                flagged_share=0.0, staff_hour_max=3, cards_per_id_max=3,
                                openers=1), found_at=at, updated_at=at)
    app.state.police.add_unit("PSB", "Nanjing PSB", actor="t")
    now = datetime.now().replace(microsecond=0)  # the police service runs on the system clock
    with d.store.transaction() as tx:
        gid = int(tx.gangs.save(gang).id or 0)
        for days, target in ((3, "8613812349999"), (0, "8613812348888")):  # one overdue
            tx.police.add(PoliceRequest.new(
                unit="PSB", kind="query", target_kind="number", target=target, action="",
                legal_doc="LD-1", case_ref="C-1", reason="fraud call", by="police",
                at=now - timedelta(days=days), sla=timedelta(days=1)))
    yield Area(app, d, keys, lake, int(den.id or 0), gid)


def login(area: Area, name: str) -> TestClient:
    c = TestClient(area.app)
    token = CSRF.search(c.get("/web/login").text)
    assert token is not None
    r = c.post("/web/login", data={"csrf": token.group(1), "name": name,
                                   "key": area.keys[name], "next": "/web/"},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def _token(text: str) -> str:
    m = CSRF.search(text)
    assert m is not None
    return m.group(1)


def test_each_role_opens_only_the_area_pages_its_api_allows(area: Area) -> None:
    may = {  # dens.read, gangs.read, police.handle (domain/users.py GRANTS)
        "admin": {"dens", "gangs", "police"}, "analyst": {"dens", "gangs", "police"},
        "disposer": {"police"}, "police": set(), "auditor": {"dens", "gangs"}, "sales": set()}
    for role, pages in may.items():
        c = login(area, role)
        for name, path in (("dens", "/web/dens"), ("dens", f"/web/dens/{area.den_id}"),
                           ("gangs", "/web/gangs"), ("gangs", f"/web/gangs/{area.gang_id}"),
                           ("police", "/web/police")):
            r = c.get(path)
            assert r.status_code == (200 if name in pages else 403), (role, path)


def test_dens_list_and_detail_mask_numbers_for_auditors(area: Area) -> None:
    n = area.lake.den[0]
    for role, sees in (("analyst", True), ("auditor", False)):
        c = login(area, role)
        listing = c.get("/web/dens")
        assert f'href="/web/dens/{area.den_id}"' in listing.text and "Jiangning" in listing.text
        page = c.get(f"/web/dens/{area.den_id}").text
        assert (n in page) is sees and (mask_number(n) in page) is not sees, role
        assert 'data-chart="' in page and "ports_parallel" in page
        assert ('id="dispose-form"' in page) is False  # neither role may act on cases
    assert "dispose-form" in login(area, "admin").get(f"/web/dens/{area.den_id}").text


def test_den_bulk_disposal_is_the_services_with_audit(area: Area) -> None:
    analyst = login(area, "analyst")  # may read dens, may not act on cases
    page = analyst.get(f"/web/dens/{area.den_id}")
    r = analyst.post(f"/web/dens/{area.den_id}/dispose",
                     data={"csrf": _token(page.text), "action": "restrict", "reason": "x"})
    assert r.status_code == 403
    admin = login(area, "admin")
    token = _token(admin.get(f"/web/dens/{area.den_id}").text)
    r = admin.post(f"/web/dens/{area.den_id}/dispose",
                   data={"action": "restrict", "reason": "GOIP den"})
    assert r.status_code == 403  # no CSRF token
    r = admin.post(f"/web/dens/{area.den_id}/dispose",
                   data={"csrf": token, "action": "restrict", "reason": ""})
    assert r.status_code == 422 and "reason" in r.text
    r = admin.post(f"/web/dens/{area.den_id}/dispose",
                   data={"csrf": token, "action": "restrict", "reason": "GOIP den"})
    assert r.status_code == 200, r.text
    cases = area.d.cases.find(group_ref=den_ref(area.den_id))
    assert {c.msisdn for c in cases} == set(area.lake.ours)
    assert all(c.status.value == "restricted" for c in cases)
    others = set(area.lake.den) - set(area.lake.ours)
    assert others and all(o in r.text for o in others)  # named for the police
    events = area.d.audit.events(after=0, limit=10_000, actor="admin")
    assert {e.event.subject for e in events if e.event.action.startswith("case.")} >= {
        f"case:{c.id}" for c in cases}


def test_gang_pages_and_bulk_disposal(area: Area) -> None:
    cards = area.lake.office[:3]
    auditor = login(area, "auditor").get(f"/web/gangs/{area.gang_id}").text
    assert cards[0] not in auditor and mask_number(cards[0]) in auditor
    assert f"{0:064x}" not in auditor  # ID hashes shortened for everyone
    admin = login(area, "admin")
    page = admin.get(f"/web/gangs/{area.gang_id}")
    assert cards[0] in page.text and "dispose-form" in page.text
    r = admin.post(f"/web/gangs/{area.gang_id}/dispose",
                   data={"csrf": _token(page.text), "action": "suspend", "reason": "gang"})
    assert r.status_code == 200, r.text
    for m in cards:
        (case,) = area.d.cases.find(msisdn=m)
        assert case.status.value == "suspended" and case.group_ref


def test_police_inbox_timers_and_maker_checker(area: Area) -> None:
    c = login(area, "disposer")
    page = c.get("/web/police").text
    rows = dict(re.findall(r'<tr id="req-(\d+)"( class="overdue")?', page))
    assert sorted(rows.values()) == ["", ' class="overdue"']  # one overdue, one in time
    assert page.count("sla-overdue") == 1 and "已超时" in page  # the timer says by how much
    overdue_id = next(k for k, v in rows.items() if v)
    r = c.post(f"/web/police/{overdue_id}/prepare", data={"csrf": _token(page), "note": "ok"},
               follow_redirects=False)
    assert r.status_code == 303
    r = c.post(f"/web/police/{overdue_id}/approve", data={"csrf": _token(page)})
    assert r.status_code == 409 and "maker-checker" in r.text  # the service's refusal
    other = login(area, "disposer2")
    r = other.post(f"/web/police/{overdue_id}/approve",
                   data={"csrf": _token(other.get("/web/police").text)},
                   follow_redirects=False)
    assert r.status_code == 303
    with area.d.store.transaction(write=False) as tx:
        q = tx.police.get(int(overdue_id))
    assert (q.status.value, q.prepared_by, q.decided_by) == ("answered", "disposer",
                                                             "disposer2")
    actions = [e.event.action for e in area.d.audit.events(
        after=0, limit=10_000, subject=f"police_request:{overdue_id}")]
    assert actions[-2:] == ["police.prepare", "police.approve"]
    in_time = next(k for k, v in rows.items() if not v)
    r = c.post(f"/web/police/{in_time}/reject", data={"csrf": _token(page), "reason": ""})
    assert r.status_code == 422
    assert login(area, "auditor").get("/web/police").status_code == 403
    en = login(area, "admin")
    en.get("/web/lang/en")
    english = en.get("/web/police").text
    assert "Police requests" in english and "Time left" in english
    assert "警方协查请求" in login(area, "admin").get("/web/police").text


def test_police_inbox_monthly_report_and_escalation(area: Area, tmp_path: Path) -> None:
    now = datetime.now().replace(microsecond=0)
    with area.d.store.transaction() as tx:
        late = int(tx.police.add(PoliceRequest.new(
            unit="PSB", kind="query", target_kind="number", target="8613812347777", action="",
            legal_doc="LD-2", case_ref="C-2", reason="fraud call", by="police",
            at=now - timedelta(days=2), sla=timedelta(days=1))).id or 0)
    c = login(area, "analyst")
    page = c.get("/web/police").text
    assert 'action="/web/police/report"' in page and 'action="/web/police/escalate"' in page
    r = c.post("/web/police/escalate", data={"csrf": _token(page)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/web/police?escalated=")
    assert int(r.headers["location"].rsplit("=", 1)[1]) >= 1
    with area.d.store.transaction(write=False) as tx:
        assert tx.police.get(late).escalated_at is not None
    events = area.d.audit.events(after=0, limit=10_000, subject=f"police_request:{late}")
    assert [(e.event.action, e.event.actor) for e in events][-1] == ("police.escalate",
                                                                    "analyst")
    shown = c.get(r.headers["location"]).text
    assert 'id="escalated"' in shown
    again = c.post("/web/police/escalate", data={"csrf": _token(page)}, follow_redirects=False)
    assert again.headers["location"] == "/web/police?escalated=0"  # once each

    # The monthly report: the CLI's files, zipped, each hash audited; verifiable unpacked.
    month = f"{now:%Y-%m}"
    r = c.post("/web/police/report", data={"csrf": _token(page), "month": month})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    import io
    import zipfile
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = sorted(z.namelist())
        z.extractall(tmp_path)
    folder = tmp_path / f"police-report-{month}"
    assert names == sorted(f"police-report-{month}/{n}" for n in (
        "SHA256SUMS", f"police-report-{month}.json", f"police-report-{month}-routes.csv"))
    body = json.loads((folder / f"police-report-{month}.json").read_text())
    assert body["month"] == month and body["requests"]["received"] >= 3
    assert body["requests"]["escalated"] >= 1
    assert area.app.state.police.verify_monthly(folder).ok
    audited = [(e.event.action, e.event.actor) for e in area.d.audit.events(
        after=0, limit=10_000, subject=f"police_report:{month}")]
    assert ("police.report", "analyst") in audited
    assert audited.count(("police.report.file", "analyst")) == 3
    r = c.post("/web/police/report", data={"csrf": _token(page), "month": month,
                                           "format": "json"})
    assert r.status_code == 200 and json.loads(r.text)["month"] == month
    assert r.headers["x-telshield-sha256"] == hashlib.sha256(r.content).hexdigest()
    bad = c.post("/web/police/report", data={"csrf": _token(page), "month": "2026-13"})
    assert bad.status_code == 422
    no_token = c.post("/web/police/report", data={"month": month})
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    refused = login(area, "auditor").post("/web/police/escalate", data={"csrf": "x"})
    assert refused.status_code == 403


def test_map_shows_the_dens_as_points(area: Area) -> None:
    c = login(area, "auditor")
    r = c.get("/web/map")
    assert r.status_code == 200
    den = area.d.store  # the den's place, as stored by the finder
    with den.transaction(write=False) as tx:
        d = tx.dens.get(area.den_id)
    points = re.search(r'data-chart="([^"]+)"', r.text)
    assert points is not None
    data = json.loads(html.unescape(points.group(1)))
    assert data["dens"] == [[d.lon, d.lat, den_ref(area.den_id), round(d.confidence, 2),
                              area.den_id]]
    assert data["hotspots"] == []  # none found in this store
    # the heat layer: calls by the store's bad numbers (none alerted here yet) per county
    assert data["counties"] == []
    borders = c.get("/web/map/counties.json").json()
    assert len(borders["features"]) == 96  # Jiangsu's districts and counties
    names = {f["properties"]["name"] for f in borders["features"]}
    assert {"南京市鼓楼区", "徐州市鼓楼区", "南京市江宁区"} <= names  # unique across cities
    for role in ("disposer", "police", "sales"):
        assert login(area, role).get("/web/map").status_code == 403, role


def test_map_heat_counts_fraud_calls_per_county_by_cell_coordinates(area: Area) -> None:
    from tests.services.denlake import CELLS

    from telshield.domain.alerts import Alert, Reason, Tier
    from telshield.web.counties import Counties

    at = datetime(2026, 11, 4, 8)
    n = area.lake.den[0]  # a den SIM, calling from the den's cells in Jiangning
    area.d.cases.intake([Alert(n, 0.6, Tier.WATCH, (Reason("rule:x", "x", "f", 1.0, 0.6),),
                               at, at, rules_version="r1", features={})])
    with area.d.store.transaction(write=False) as tx:
        found = tx.outcomes.fraud_numbers()
    bad = found.alerted | found.clued | found.confirmed
    place = dict(zip(CELLS, Counties().locate((lo, la) for la, lo, _ in CELLS.values()),
                     strict=True))
    assert place["C-DEN"] == "南京市江宁区"  # where the lake's cells feed puts it (Jiangning)
    expected: dict[str, int] = {}
    for row in area.lake.calls:  # the lake spans four days: all within the last seven
        if row["caller"] in bad and row.get("caller_cell"):
            name = place[row["caller_cell"]]
            expected[name] = expected.get(name, 0) + 1
    c = login(area, "analyst")
    r = c.get("/web/map")
    points = re.search(r'data-chart="([^"]+)"', r.text)
    assert points is not None
    data = json.loads(html.unescape(points.group(1)))
    assert dict(data["counties"]) == expected and expected.get("南京市江宁区", 0) > 0
    assert "南京市江宁区" in r.text  # the table beside the map
