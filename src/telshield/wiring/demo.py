"""Composition for ``telshield demo``: a simulated province written where the demo wants it."""

from __future__ import annotations

from pathlib import Path


def simulated_province(out: Path, *, subscribers: int | None, days: int | None, seed: int
                       ) -> int | None:
    """Generate a province into ``out`` and return its call and SMS rows, or None when one is
    already there and no size was asked for (it is reused)."""
    from telshield.world.config import load_config
    from telshield.world.generate import generate

    if (out / "world.json").exists() and subscribers is None and days is None:
        return None
    overrides = {k: v for k, v in (("subscribers", subscribers), ("days", days)) if v}
    return generate(load_config(None, **overrides), seed, out, overwrite=True).traffic_rows
