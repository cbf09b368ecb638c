"""A store with users of every role and one alert, served by the real app (API + web)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI

from telshield.api.app import create_app
from telshield.domain.alerts import Alert, Reason, Tier
from telshield.services.store import FixedClock
from telshield.settings import ApiSettings, Settings
from telshield.wiring import Disposal, disposal

N = "8613812345678"
ROLES = ("admin", "analyst", "disposer", "police", "auditor", "sales")


@dataclass
class World:
    """The app, its services and one key per role (the user is named after the role)."""

    app: FastAPI
    d: Disposal
    keys: dict[str, str]
    clock: FixedClock
    data_dir: Path | None = None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """An app over a fresh store at 2026-03-01 09:00 UTC with one watch-tier alert on N (one
    per test module: building the numbering plan the intake needs takes seconds)."""
    tmp_path: Path = tmp_path_factory.mktemp("web")
    settings = Settings(data_dir=tmp_path, api=ApiSettings(metrics_port=0))
    clock = FixedClock(datetime(2026, 3, 1, 9))
    d = disposal(settings, clock=clock)
    keys = {r: d.users.add(r, r, actor="t", unit="PSB" if r == "police" else "")[1]
            for r in ROLES}
    at = datetime(2026, 3, 1, 8)
    d.cases.intake([Alert(N, 0.55, Tier.WATCH,
                          (Reason("rule:many_strangers", "calls many strangers",
                                  "distinct_callees", 41.0, 0.3),),
                          at, at, rules_version="r1", features={"distinct_callees": 41.0})])
    d.lists.add("number", "8613900001111", "black", source="manual", reason="known fraud",
                actor="admin")
    yield World(create_app(settings, disposal=d), d, keys, clock, tmp_path)
