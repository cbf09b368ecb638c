"""The OpenAPI page works offline: every script, style sheet and icon it references is served
by the app itself, from the vendored Swagger UI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from telshield.api.app import create_app
from telshield.settings import ApiSettings, Settings
from telshield.wiring import disposal


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("docs")),
                        api=ApiSettings(metrics_port=0))
    with TestClient(create_app(settings, disposal=disposal(settings))) as c:
        yield c


def test_docs_page_references_only_local_assets(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    assert len(refs) >= 3  # script, style sheet, icon
    for ref in refs:
        assert ref.startswith("/"), f"{ref} would be fetched from another host"
        assert not ref.startswith("//")
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 100, ref
    assert not re.search(r"https?://", page.text), "the page must not name another host"
    assert '"validatorUrl": null' in page.text  # no badge fetched from validator.swagger.io


def test_the_spec_and_the_vendored_licence_are_served(client: TestClient) -> None:
    assert client.get("/openapi.json").json()["info"]["title"] == "telshield"
    assert "Apache License" in client.get("/static/swagger-ui/LICENSE").text
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not offered
    assert client.get("/docs/oauth2-redirect").status_code == 200
