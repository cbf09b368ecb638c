"""The API application factory."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from telshield import __version__
from telshield.api import alerts, audit, cases, errors, lists, redress, users
from telshield.settings import Settings
from telshield.wiring import Disposal


def create_app(settings: Settings, *, disposal: Disposal | None = None) -> FastAPI:
    """The telshield API over the configured store (or the given services)."""
    from telshield import wiring

    app = FastAPI(
        title="telshield",
        version=__version__,
        description="Lists, alerts, cases, actions, appeals and audit of the anti-fraud "
        "platform. Every route needs an API key ('Authorization: Bearer <key>' or "
        "'X-API-Key'); make one with `telshield users add NAME --role ROLE`.",
    )
    app.state.disposal = disposal if disposal is not None else wiring.disposal(settings)
    app.state.max_page = settings.api.max_page
    errors.install(app)
    for module in (lists, alerts, cases, audit, users):
        app.include_router(module.router)
    redress.install(app, settings)  # screening decisions and appeals against them
    return app


def from_environment() -> FastAPI:
    """The app from settings in the environment (and the TOML file named by TELSHIELD_CONFIG):
    the factory for ASGI servers, e.g. ``uvicorn --factory telshield.api.app:from_environment``."""
    from telshield.settings import load_settings

    config = os.environ.get("TELSHIELD_CONFIG")
    return create_app(load_settings(Path(config) if config else None))
