"""``telshield serve``: the HTTP API (lists, alerts, cases, actions, appeals, audit)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from telshield.cli.common import ConfigOption, DataDirOption, existing_data

console = Console(stderr=True)


def serve_cmd(
    host: Annotated[str | None, typer.Option(help="Address (default from settings: api.host).")
                    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings: api.port).")
                    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the API; OpenAPI at /docs, probes at /healthz and /readyz, Prometheus metrics on
    their own port (api.metrics_port). Make keys first with `telshield users add`."""
    import uvicorn

    from telshield.wiring.security import refuse_placeholder

    settings = existing_data(config, data_dir)
    refuse_placeholder(settings, "serve the API")
    # The edge hands its settings to the API's own factory through the environment (the CLI
    # does not import the API: edges stay independent, and ASGI servers use the same factory).
    os.environ["TELSHIELD_DATA_DIR"] = str(settings.data_dir)
    if config is not None:
        os.environ["TELSHIELD_CONFIG"] = str(config)
    h, p = host or settings.api.host, port or settings.api.port
    console.print(f"telshield API on http://{h}:{p} (OpenAPI: http://{h}:{p}/docs)")
    a = settings.api
    if a.metrics_port:
        console.print(f"metrics on http://{a.metrics_host}:{a.metrics_port}/metrics")
    console.print("access log: one api.request line per request at --log-level info")
    # uvicorn's own access log would print each path and query string, numbers in clear:
    # api.observe writes the access log instead, with route templates.
    uvicorn.run("telshield.api.app:from_environment", factory=True, host=h, port=p,
                log_level="warning", access_log=False)


def register(app: typer.Typer) -> None:
    """Add ``telshield serve``."""
    app.command("serve")(serve_cmd)
