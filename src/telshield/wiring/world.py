"""Composition of the simulator area for the edges: world configs, generation, description."""

from __future__ import annotations

from telshield.world.config import WorldConfig, load_config, randomised
from telshield.world.describe import MONTHLY, check, describe, drawn
from telshield.world.generate import Summary, generate
from telshield.world.prior import entries as prior_entries
from telshield.world.prior import markdown as prior_markdown

__all__ = [
    "MONTHLY",
    "Summary",
    "WorldConfig",
    "check",
    "describe",
    "drawn",
    "generate",
    "load_config",
    "prior_entries",
    "prior_markdown",
    "randomised",
]
