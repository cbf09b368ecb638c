"""Health checks: /healthz answers while the process is up; /readyz says whether the store can
serve (503 with the reason when it cannot). Both answer without a key; nothing else does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from telshield import __version__
from telshield.api.app import create_app
from telshield.domain.errors import NotFound
from telshield.settings import ApiSettings, Settings, StoreSettings
from telshield.wiring import disposal


def _settings(data: Path, url: str = "") -> Settings:
    return Settings(data_dir=data, api=ApiSettings(metrics_port=0), store=StoreSettings(url=url))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = _settings(tmp_path)
    with TestClient(create_app(settings, disposal=disposal(settings))) as c:
        yield c


def test_live_and_ready_without_a_key(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "version": __version__}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert r.json()["schema_revision"]
    assert client.get("/me").status_code == 401  # the rest still needs a key


def test_not_ready_when_the_store_is_gone(tmp_path: Path) -> None:
    db = tmp_path / "telshield.db"
    settings = _settings(tmp_path)
    with TestClient(create_app(settings, disposal=disposal(settings))) as c:
        assert c.get("/readyz").status_code == 200
        engine = sa.create_engine(f"sqlite:///{db}")
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE alembic_version")
        engine.dispose()
        r = c.get("/readyz")
        assert r.status_code == 503
        assert "holds no telshield schema" in r.json()["detail"]
        assert c.get("/healthz").status_code == 200  # alive all the same


def test_not_ready_when_the_schema_is_not_this_versions(db: Any, tmp_path: Path) -> None:
    from telshield.store.sql import open_store

    store = open_store(db.url, schema=db.schema)
    d = disposal(_settings(tmp_path, db.url), store=store)
    with TestClient(create_app(_settings(tmp_path, db.url), disposal=d)) as c:
        assert c.get("/readyz").status_code == 200
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
        r = c.get("/readyz")
        assert r.status_code == 503 and "revision 9999" in r.json()["detail"]
    store.dispose()


def test_not_ready_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    from telshield.store.sql import open_store

    url = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # nothing listens on port 1
    d = disposal(_settings(tmp_path, url), store=open_store(url, upgrade=False))
    with TestClient(create_app(_settings(tmp_path, url), disposal=d)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and "unreachable" in r.json()["detail"]


def test_the_server_factory_refuses_a_data_directory_without_a_store(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="telshield init"):
        create_app(_settings(tmp_path / "typo"))
    assert not (tmp_path / "typo").exists()
