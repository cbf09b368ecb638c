"""The API application factory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from telshield import __version__
from telshield.api import (
    alerts,
    audit,
    bundles,
    cases,
    dens,
    docs,
    errors,
    gangs,
    health,
    hotspots,
    lists,
    police,
    redress,
    registrations,
    trace,
    users,
)
from telshield.api.bodies import BodyGuard
from telshield.api.lockout import Lockout
from telshield.api.observe import ApiMetrics, Observe, start_metrics_server
from telshield.settings import Settings
from telshield.wiring import Disposal
from telshield.wiring.process import settle
from telshield.wiring.security import checkpoint_path, shared_lockout


def create_app(settings: Settings, *, disposal: Disposal | None = None) -> FastAPI:
    """The telshield API over the configured store (or the given services)."""
    from telshield import web, wiring
    from telshield.wiring import web as wiring_web
    from telshield.wiring.health import store_check

    if disposal is None:
        from telshield.wiring.datadir import require_data_dir

        require_data_dir(settings)  # a mistyped data directory must not start an empty store
    api = settings.api
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        server = start_metrics_server(metrics, api.metrics_host, api.metrics_port) \
            if api.metrics_port else None
        try:
            yield
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()

    app = FastAPI(
        title="telshield",
        version=__version__,
        description="Lists, alerts, cases, actions, appeals, audit and the registration check "
        "of the anti-fraud "
        "platform. Every route needs an API key ('Authorization: Bearer <key>' or "
        "'X-API-Key'); make one with `telshield users add NAME --role ROLE`. Only /healthz "
        "and /readyz answer without one.",
        docs_url=None,  # served from vendored files by api.docs
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.disposal = disposal if disposal is not None else wiring.disposal(settings)
    app.state.max_page = api.max_page
    app.state.ready = store_check(app.state.disposal.store)
    app.state.metrics = metrics
    errors.install(app)
    for module in (health, lists, alerts, cases, audit, users):
        app.include_router(module.router)
    redress.install(app, settings)  # screening decisions and appeals against them
    registrations.install(app, settings)  # the registration check (入网核验)
    gangs.install(app, settings)  # card-trafficking gangs (开卡贩卡团伙)
    hotspots.install(app, settings)  # out-of-town concentration (外地号码聚集)
    dens.install(app, settings)  # GOIP dens (窝点)
    trace.install(app, settings)  # trace a number (溯源)
    police.install(app, settings)  # police coordination (警企协同)
    bundles.install(app, settings)  # police clues' related numbers (线索关联号码)
    docs.install(app)
    # Wrong keys and failed logins, counted in the store so every worker and host shares them.
    app.state.lockout = shared_lockout(settings, app.state.disposal.store) \
        or Lockout(api.key_max_failures, api.key_window_s)
    web.install(app, app.state.disposal, wiring_web.overview(settings, app.state.disposal),
                session_key=wiring_web.session_key(settings), lockout=app.state.lockout,
                areas=wiring_web.areas(app.state.disposal, app.state.dens, app.state.gangs,
                                       app.state.police, app.state.hotspots,
                                       wiring_web.fraud_calls(settings, app.state.disposal)),
                checkpoints=checkpoint_path(settings),
                insight=wiring_web.insight(settings, app.state.disposal, app.state.trace,
                                           app.state.registrations, app.state.regrisk))
    app.add_middleware(BodyGuard, max_bytes=api.max_body_bytes)  # size and strict JSON
    app.add_middleware(Observe, metrics=metrics)  # outermost: logs the guard's refusals too
    return app


def from_environment() -> FastAPI:
    """The app from settings in the environment (and the TOML file named by TELSHIELD_CONFIG):
    the factory for ASGI servers, e.g. ``uvicorn --factory telshield.api.app:from_environment``."""
    from telshield.settings import load_settings

    config = os.environ.get("TELSHIELD_CONFIG")
    app = create_app(load_settings(Path(config) if config else None))
    app.state.registrations.warm()  # the check's risk ranking, built at start, not per check
    settle()
    return app

