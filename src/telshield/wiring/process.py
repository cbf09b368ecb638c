"""What a long-running server process does once its start-up is over."""

from __future__ import annotations

import gc


def settle() -> None:
    """Move what start-up made (modules, routes, services and their state: 50,000 objects in
    a screening face, 200,000 in the API) out of the cyclic garbage collector's way, for a
    long-running server process. Otherwise every full collection walks all of it (about
    100 ms on one core in the API, every few requests on the trace pages: their p95; about
    10 ms in a screening face, a stall of every call set-up waiting on it); after it, only what
    requests made since. Objects frozen here are never collected, so it runs once, after
    start-up's garbage is."""
    gc.collect()
    gc.freeze()
