"""Registrations: dealer channels and staff, SIMs registered with us, e-channel orders."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from telshield.world.geography import CITIES, CITY_CODES

ORDER_CHANNELS = ("app", "web", "mini_program", "partner")


@dataclass(frozen=True)
class Channels:
    """Dealer stores per city: ids, their staff IDs and terminals."""

    city: np.ndarray  # int16
    channel_id: np.ndarray  # object
    n_staff: np.ndarray  # int8
    n_terminals: np.ndarray  # int8

    def staff_id(self, ch: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Staff ID number ``k`` (1-based) of channels ``ch``."""
        pairs = zip(self.channel_id[ch], k, strict=True)
        return np.array([f"ST{c[2:]}-{s:02d}" for c, s in pairs], dtype=object)

    def terminal_id(self, ch: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Terminal number ``k`` (1-based) of channels ``ch``."""
        return np.array(
            [f"T{c[2:]}-{t}" for c, t in zip(self.channel_id[ch], k, strict=True)], dtype=object
        )


def make_channels(rng: np.random.Generator, city_weights: np.ndarray, subscribers: int) -> Channels:
    """Stores in proportion to each city's population (one per ~800 subscribers, at least 4)."""
    per_city = np.maximum(4, np.round(city_weights * subscribers / 800)).astype(int)
    city = np.repeat(np.arange(len(CITIES), dtype=np.int16), per_city)
    ids: list[str] = []
    for c, k in zip(range(len(CITIES)), per_city, strict=True):
        nums = rng.choice(np.arange(1, 10_000), size=k, replace=False)
        ids.extend(f"CH-{CITY_CODES[CITIES[c]]}-{x:04d}" for x in nums)
    n = len(city)
    return Channels(
        city=city,
        channel_id=np.array(ids, dtype=object),
        n_staff=rng.integers(1, 7, n).astype(np.int8),
        n_terminals=rng.integers(1, 4, n).astype(np.int8),
    )


@dataclass
class Sims:
    """SIMs registered with us (one row per registration) and their e-channel orders, if any."""

    node: np.ndarray  # int64 index into the node table of the block that made them
    reg_s: np.ndarray  # int64 seconds from window start to activation
    person: np.ndarray  # object: identity label (hashed before it leaves the simulator)
    holder: np.ndarray  # object: individual / enterprise
    channel_id: np.ndarray  # object
    staff_id: np.ndarray  # object
    terminal_id: np.ndarray  # object or None
    order_channel: np.ndarray  # object: one of ORDER_CHANNELS, or None for a store
    address: np.ndarray  # object: delivery address label
    contact: np.ndarray  # int64 contact number given on the order
    device: np.ndarray  # object: ordering device fingerprint
    ip: np.ndarray  # object

    def shifted(self, base: int) -> Sims:
        """The same SIMs with node indices offset by ``base`` (after blocks are stacked)."""
        return Sims(**{**{f.name: getattr(self, f.name) for f in fields(Sims)},
                       "node": self.node + base})


def concat_sims(parts: list[Sims]) -> Sims:
    """Stack SIM registrations."""
    return Sims(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Sims)}
    )


def random_ips(rng: np.random.Generator, n: int) -> np.ndarray:
    """Plausible public IPv4 addresses of Chinese broadband and mobile ranges."""
    first = np.array([112, 114, 117, 121, 180, 183, 223, 36, 58, 49])[rng.integers(0, 10, n)]
    rest = rng.integers(0, 256, (n, 3))
    return np.array(
        [f"{a}.{b}.{c}.{d}" for a, (b, c, d) in zip(first, rest, strict=True)], dtype=object
    )


def device_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Client device fingerprints."""
    return np.array([f"dev-{x:08x}" for x in rng.integers(0, 2**32, n)], dtype=object)


def ordinary_sims(
    rng: np.random.Generator,
    channels: Channels,
    *,
    node: np.ndarray,
    city: np.ndarray,
    reg_s: np.ndarray,
    person: np.ndarray,
    holder: np.ndarray,
    contacts: np.ndarray,
    echannel_share: float,
) -> Sims:
    """Registrations through a store of the holder's city, or an e-channel order."""
    n = len(node)
    ch = np.zeros(n, np.int64)
    for c in range(len(CITIES)):
        m = city == c
        pool = np.flatnonzero(channels.city == c)
        ch[m] = pool[rng.integers(0, len(pool), int(m.sum()))]
    staff = channels.staff_id(ch, (rng.random(n) * channels.n_staff[ch]).astype(int) + 1)
    term = channels.terminal_id(ch, (rng.random(n) * channels.n_terminals[ch]).astype(int) + 1)
    online = rng.random(n) < echannel_share
    oc = np.array(ORDER_CHANNELS, dtype=object)[rng.choice(4, n, p=[0.55, 0.15, 0.2, 0.1])]
    channel_id = channels.channel_id[ch].copy()
    channel_id[online] = np.char.add("EC-", np.char.upper(oc[online].astype(str))).astype(object)
    staff[online] = "ST-EC-AUTO"
    term[online] = None
    return Sims(
        node=node.astype(np.int64),
        reg_s=reg_s.astype(np.int64),
        person=person,
        holder=holder,
        channel_id=channel_id,
        staff_id=staff,
        terminal_id=term,
        order_channel=np.where(online, oc, np.full(n, None, dtype=object)),
        address=np.char.add("addr-", person.astype(str)).astype(object),
        contact=contacts.astype(np.int64),
        device=_only(online, device_ids(rng, int(online.sum()))),
        ip=_only(online, random_ips(rng, int(online.sum()))),
    )


def _only(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` spread over the positions where ``mask`` holds; None elsewhere."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = values
    return out
