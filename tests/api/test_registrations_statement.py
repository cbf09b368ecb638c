"""The video statement over HTTP: the sales system sends the transcript with the application and
is told the score, the tail heard and what did not match; the operator's settings decide what a
failed or missing statement means; a transcript is never echoed back in an error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from telshield.api.app import create_app
from telshield.settings import ApiSettings, RegistrationSettings, Settings
from telshield.wiring import disposal

H = "9f" * 32


def _client(tmp_path: Path, registration: RegistrationSettings
            ) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0),
                        registration=registration)
    d = disposal(settings)
    keys = {r: d.users.add(f"u-{r}", r, actor="test")[1] for r in ("sales", "disposer")}
    with TestClient(create_app(settings, disposal=d)) as client:
        yield client, keys


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    yield from _client(tmp_path, RegistrationSettings(cards_30d_verify=50))


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    yield from _client(tmp_path, RegistrationSettings(
        cards_30d_verify=50, statement_required=True, statement_on_fail="refuse",
        statement_wording="本人承诺尾号{last4}的号码仅限本人使用", statement_threshold=0.9))


def body(msisdn: str, transcript: str | None = None) -> dict[str, str]:
    b = {"id_hash": H, "holder_kind": "individual", "channel_id": "CH-1", "staff_id": "ST-1",
         "terminal_id": "T-1", "msisdn": msisdn}
    return b if transcript is None else {**b, "transcript": transcript}


def test_the_statement_is_scored_and_explained(api: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = api
    sales = {"X-API-Key": keys["sales"]}
    r = client.post("/registrations/check", headers=sales,
                    json=body("13800005678", "我本人时名登记并灵取了尾号五六七八的电话卡"))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["decision"] == "allow" and got["reasons"] == []
    assert got["statement"] == {"score": 1.0, "passed": True, "tail_heard": "5678",
                                "mismatch": "all parts heard"}
    r = client.post("/registrations/check", headers=sales,
                    json=body("13800005679", "我本人实名登记并领取了尾号1234的电话卡"))
    got = r.json()
    assert got["decision"] == "verify" and got["appeal_channel"] and got["retake"] == ""
    assert [x["code"] for x in got["reasons"]] == ["statement_mismatch"]
    assert "tail digits heard 1234, the number ends 5679" in got["reasons"][0]["text"]
    assert got["statement"]["passed"] is False and got["statement"]["tail_heard"] == "1234"
    r = client.post("/registrations/check", headers=sales, json=body("13800005680"))
    assert r.json()["decision"] == "allow" and r.json()["statement"] is None
    r = client.post("/registrations/check", headers=sales, json=body("13800005681", ""))
    assert [x["code"] for x in r.json()["reasons"]] == ["statement_missing"]
    denied = client.post("/registrations/check", headers={"X-API-Key": keys["disposer"]},
                         json=body("13800005682", "我本人实名登记并领取了尾号5682的电话卡"))
    assert denied.status_code == 403


def test_the_operator_s_settings_decide(strict: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = strict
    sales = {"X-API-Key": keys["sales"]}
    r = client.post("/registrations/check", headers=sales, json=body("13800005678"))
    assert r.json()["decision"] == "refuse"
    assert [x["code"] for x in r.json()["reasons"]] == ["statement_missing"]
    r = client.post("/registrations/check", headers=sales,
                    json=body("13800005679", "我本人实名登记并领取了尾号5679的电话卡"))
    assert r.json()["decision"] == "refuse"
    assert [x["code"] for x in r.json()["reasons"]] == ["statement_mismatch"]
    r = client.post("/registrations/check", headers=sales,
                    json=body("13800005680", "本人承诺，尾号五六八零的号码，仅限本人使用。"))
    assert r.json()["decision"] == "allow" and r.json()["statement"]["passed"] is True


def test_a_long_transcript_is_not_echoed(api: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = api
    long = "我本人实名登记" * 300
    r = client.post("/registrations/check", headers={"X-API-Key": keys["sales"]},
                    json=body("13800005678", long))
    assert r.status_code == 422 and "transcript is at most 2000" in r.text
    assert "我本人实名登记" not in r.text


def test_a_near_miss_is_retaken_over_http(api: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = api
    sales = {"X-API-Key": keys["sales"]}
    slip = "我本人实名登记并领取了尾号5688的电话卡"  # the number ends 5678: one digit misheard
    r = client.post("/registrations/check", headers=sales, json=body("13800005678", slip))
    got = r.json()
    assert (got["decision"], got["retake"], got["appeal_channel"]) == ("retake", "asked", "")
    assert [x["code"] for x in got["reasons"]] == ["statement_retake"]
    again = {**body("13800005678", slip),
             "retake_transcript": "我本人实名登记并领取了尾号五六七八的电话卡"}
    got = client.post("/registrations/check", headers=sales, json=again).json()
    assert (got["decision"], got["retake"], got["reasons"]) == ("allow", "passed", [])
    assert got["statement"]["tail_heard"] == "5678"
    # A mule reading the neighbouring card's tail reads it again: extra verification.
    mule = "我本人实名登记并领取了尾号5678的电话卡"
    got = client.post("/registrations/check", headers=sales,
                      json=body("13800005677", mule)).json()
    assert got["decision"] == "retake"
    got = client.post("/registrations/check", headers=sales,
                      json={**body("13800005677", mule), "retake_transcript": mule}).json()
    assert (got["decision"], got["retake"]) == ("verify", "failed")
    assert [x["code"] for x in got["reasons"]] == ["statement_mismatch"]
    # A retake nobody asked for is ignored.
    got = client.post("/registrations/check", headers=sales,
                      json={**body("13800005690", "我本人实名登记并领取了尾号1111的电话卡"),
                            "retake_transcript": "我本人实名登记并领取了尾号5690的电话卡"}).json()
    assert (got["decision"], got["retake"]) == ("verify", "ignored")
    long = client.post("/registrations/check", headers=sales,
                       json={**body("13800005691"), "retake_transcript": "我本人" * 700})
    assert long.status_code == 422 and "retake_transcript is at most 2000" in long.text
    assert "我本人" not in long.text
