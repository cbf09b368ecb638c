"""The one place that reads settings, picks implementations and plugs them into services.

One module per area: ``disposal`` (store, lists, cases, audit, users, device barring), and
beside it the composition of each other area as it grows (screening, detection, the operating
cycle, the registration check). Edges (api, cli) import what they need from here; nothing else
reads settings.
"""

from telshield.wiring.disposal import (
    Disposal,
    alert_sink,
    device_barring,
    disposal,
    disposal_policy,
    open_store,
)

__all__ = [
    "Disposal",
    "alert_sink",
    "device_barring",
    "disposal",
    "disposal_policy",
    "open_store",
]
