"""The prior over provinces: every behavioural parameter's range, drawn per seed.

``prior.toml`` lists, for each config key it varies (``section.key`` or ``roles.NAME.key``), a
range, a scale (``linear``: uniform; ``log``: uniform in the logarithm) and where the range comes
from; an entry added after provinces had been drawn says ``later = true`` and is drawn after the
rest (see ``entries``). ``draw`` replaces those keys of a config with values drawn from a stream
of their own (the seed's), so the same seed and prior give the same province, and a province
drawn from the prior differs from the default in every behaviour at once. The ranges were
written down before any detector was run on a randomised province (see the history of
``prior.toml``); widen or narrow one with ``[randomise] ranges`` in a world config.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from pydantic import ValidationError

from telshield.domain.errors import InvalidInput
from telshield.world.config import WorldConfig

# Config keys the prior leaves as they are, and why (``*`` stands for any role).
FIXED: dict[str, str] = {
    "world.subscribers": "the size you ask for",
    "world.days": "the window you ask for",
    "world.start": "the window you ask for",
    "world.subscribers_per_cell": "the network's layout, not anyone's behaviour",
    "social.degree_max": "a cap on the heavy tail of contacts",
    "roles.*.hours": "what the role is (categorical)",
    "roles.*.weekdays_only": "what the role is (categorical)",
    "roles.*.holder_kind": "what the role is; registered_share varies how it shows",
    "roles.*.personal_life": "what the role is (categorical)",
    "roles.courier.registered_share": "unused: individuals hold these SIMs",
    "roles.taxi.registered_share": "unused: individuals hold these SIMs",
    "roles.real_estate.registered_share": "unused: individuals hold these SIMs",
    "roles.promoter.registered_share": "unused: individuals hold these SIMs",
    "roles.sales.roam_cells": "a desk job (0)",
    "roles.customer_service.roam_cells": "a desk job (0)",
    "roles.taxi.stranger_sms_per_day": "drivers call, they do not text (0)",
    "dens.ports_min": "device sizes (GOIP-8 to GOIP-32)",
    "dens.ports_max": "device sizes (GOIP-8 to GOIP-32)",
    "dens.audio_cable_ports_min": "two to four phone pairs on a table",
    "dens.audio_cable_ports_max": "two to four phone pairs on a table",
    "dens.swap_days_min": "the low end of the swap period (swap_days_max varies)",
    "gangs.openers_min": "the low end (openers_max varies)",
    "gangs.channels_min": "the low end (channels_max varies)",
    "gangs.cards_per_opener_min": "an opener opens at least two cards",
    "gangs.cards_per_opener_max": "the per-operator limit of cards per identity (5)",
    "gangs.staff_per_channel_max": "a store's colluding staff",
    "offices.lines_min": "an office holds 4-12 lines",
    "offices.lines_max": "an office holds 4-12 lines",
    "enterprise.lines_min": "company sizes",
    "enterprise.lines_max": "company sizes",
    "iot.devices_per_site_max": "machines per site",
    "abroad.days_min": "the shortest trip (days_max varies)",
}


def fixed_reason(key: str) -> str | None:
    """Why the prior leaves ``key`` alone (None when it should not)."""
    parts = key.split(".")
    wild = ".".join(["roles", "*", *parts[2:]]) if parts[0] == "roles" else key
    return FIXED.get(key) or FIXED.get(wild)


@dataclass(frozen=True)
class Entry:
    """One parameter of the prior."""

    key: str  # dotted config path, e.g. fraud_sim.calls_per_day_median
    lo: float
    hi: float
    scale: str  # linear or log
    source: str
    later: bool = False  # added after randomised provinces were drawn: drawn after the rest

    def value(self, u: float, lo: float, hi: float) -> float:
        """The value at quantile ``u`` of this entry's distribution over [lo, hi]."""
        if self.scale == "log" and lo > 0:
            return math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        return lo + u * (hi - lo)


def _walk(node: dict[str, Any], path: tuple[str, ...]) -> list[Entry]:
    if "range" in node:
        lo, hi = (float(x) for x in node["range"])
        return [Entry(".".join(path), lo, hi, str(node.get("scale", "linear")),
                      str(node.get("source", "")), bool(node.get("later", False)))]
    out: list[Entry] = []
    for k, v in node.items():
        if isinstance(v, dict):
            out += _walk(v, (*path, k))
    return out


def entries() -> list[Entry]:
    """The packaged prior, in file order: the entries as TOML nests them (section by section),
    then those marked ``later = true`` in the order their tables appear in the file. ``draw``
    gives each entry the next quantile of the seed's stream in this order, so an entry appended
    later (to a section of its own or to an old one) moves no earlier entry's quantile."""
    text = resources.files("telshield.world").joinpath("prior.toml").read_text("utf-8")
    found = _walk(tomllib.loads(text), ())
    later = [e for e in found if e.later]
    for e in later:
        if f"[{e.key}]" not in text:
            raise ValueError(f"prior.toml: write the table of {e.key} as [{e.key}]")
    later.sort(key=lambda e: text.index(f"[{e.key}]"))
    return [e for e in found if not e.later] + later


def _get(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        node = node[part]
    return node


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[last] = value


def draw(cfg: WorldConfig, seed: int) -> tuple[WorldConfig, dict[str, float]]:
    """``cfg`` with every prior parameter drawn for ``seed`` if ``[randomise] enabled``, and
    the value of each prior parameter in the result (drawn or not)."""
    prior = entries()
    data = cfg.model_dump()
    if not cfg.randomise.enabled:
        return cfg, {e.key: _get(data, e.key) for e in prior}
    known = {e.key for e in prior}
    for key, (lo, hi) in cfg.randomise.ranges.items():
        if key not in known:
            raise InvalidInput(f"randomise.ranges: {key!r} is not a parameter of the prior; "
                               "see the table in docs/world.md")
        if lo > hi:
            raise InvalidInput(f"randomise.ranges: {key} = [{lo}, {hi}] has lo above hi")
    rng = np.random.default_rng([seed, 99])
    u = rng.random(len(prior))  # one quantile per entry, in file order, whatever the ranges
    params: dict[str, float] = {}
    for e, q in zip(prior, u, strict=True):
        lo, hi = cfg.randomise.ranges.get(e.key, (e.lo, e.hi))
        value: float = e.value(float(q), lo, hi)
        if isinstance(_get(data, e.key), int) and not isinstance(_get(data, e.key), bool):
            value = round(value)
        else:
            value = round(value, 6)
        _set(data, e.key, value)
        params[e.key] = value
    try:
        return WorldConfig.model_validate(data), params
    except ValidationError as err:  # a range outside what the config allows
        raise InvalidInput(f"the prior drew an invalid province ({err.errors()[0]['loc']}: "
                           f"{err.errors()[0]['msg']}); fix the range in randomise.ranges"
                           ) from None


def markdown() -> str:
    """The prior as the tables in docs/world.md: what is drawn, and what is left fixed."""
    lines = ["| parameter | range | scale | where the range comes from |", "|---|---|---|---|"]
    for e in entries():
        lines.append(f"| `{e.key}` | {e.lo:g} – {e.hi:g} | {e.scale} | {e.source} |")
    lines += ["", "Left as configured (`*`: any role):", "",
              "| key | why |", "|---|---|"]
    lines += [f"| `{k}` | {why} |" for k, why in FIXED.items()]
    return "\n".join(lines) + "\n"
