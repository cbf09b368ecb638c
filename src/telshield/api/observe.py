"""What the API tells its operators: Prometheus metrics and one structured access-log line per
request.

Requests are labelled by their route *template* (``/cases/{case_id}``), never by the path asked
for: a path can carry a number in clear (``/lists/check/8613812345678``) and would give every
number its own time series. For the same reason the log line holds the template, never the path
or the query string, and names the user and role, never the key they presented.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

log = structlog.get_logger("telshield.api")

# Requests to the API are list look-ups and single-row changes (milliseconds) up to bulk
# disposals of a den (seconds).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ApiMetrics:
    """The API's metrics, in a registry of their own (one per app, so tests and a second app in
    one process never clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "telshield_api_requests", "Requests answered, by route template, method and status",
            ["route", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "telshield_api_request_duration_seconds", "Time to answer, by route template",
            ["route", "method"], buckets=BUCKETS, registry=self.registry,
        )
        self.in_flight = Gauge(
            "telshield_api_requests_in_flight", "Requests being answered now",
            registry=self.registry,
        )


class Observe:
    """ASGI middleware: counts, times and logs every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request through the app, then count, time and log it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app fails before it answers

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        m = self.metrics
        m.in_flight.inc()
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            took = time.perf_counter() - start
            m.in_flight.dec()
            route, method = route_of(scope), scope["method"]
            m.requests.labels(route, method, str(status)).inc()
            m.latency.labels(route, method).observe(took)
            user = scope.get("state", {}).get("user")
            level = log.error if status >= 500 else log.info
            level("api.request", method=method, route=route, status=status,
                  duration_ms=round(took * 1000, 2),
                  user=getattr(user, "name", "-"), role=_role(user),
                  client=(scope.get("client") or ("-",))[0])


def route_of(scope: Scope) -> str:
    """The template of the route that answered (``unmatched`` for a 404 on no route)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


def _role(user: Any) -> str:
    role = getattr(user, "role", None)
    return str(getattr(role, "value", "-"))


def start_metrics_server(metrics: ApiMetrics, host: str, port: int) -> WSGIServer | None:
    """Serve ``/metrics`` on its own port (a thread), or None when the port cannot be bound: the
    API keeps answering and the scrape's ``up == 0`` tells the operator."""
    try:
        server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as e:
        log.error("api.metrics_unavailable", host=host, port=port, error=str(e))
        return None
    log.info("api.metrics_serving", host=host, port=port)
    return server
