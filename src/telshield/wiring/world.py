"""Composition of the simulator area for the edges: world configs, generation, description."""

from __future__ import annotations

from telshield.world.config import WorldConfig, load_config
from telshield.world.describe import MONTHLY, check, describe
from telshield.world.generate import Summary, generate

__all__ = ["MONTHLY", "Summary", "WorldConfig", "check", "describe", "generate", "load_config"]
