"""Devices: type allocation codes (TACs), IMEIs with a valid Luhn digit, IMSIs, identity hashes."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field, replace

import numpy as np

# The simulator's hashes only need to look like the operator's (64 lowercase hex); each world
# keys them by its seed (``world_key``), as each operator keys its own, so that two provinces
# share no identity hash.
WORLD_KEY = b"telshield-world-identity-key"


def world_key(seed: int) -> bytes:
    """The identity-hash key of the world drawn with ``seed``."""
    return WORLD_KEY + b":" + str(seed).encode()

PHONE_VENDORS = ("Apple", "Huawei", "Xiaomi", "OPPO", "vivo", "Honor", "Samsung", "realme")
GOIP_MODELS = (
    ("HYBERTONE", "GoIP-8"), ("HYBERTONE", "GoIP-16"), ("HYBERTONE", "GoIP-32"),
    ("DBL", "GoIP-D8"), ("Dinstar", "UC2000-VE-16G"), ("Ejoin", "GoIP-32"),
)
SIMBANK_MODELS = (("HYBERTONE", "SIMBANK-128"), ("Ejoin", "SIMBANK-64"))
MODEM_MODELS = (("Quectel", "EC20"), ("Huawei", "E3372"), ("SIMCom", "SIM7600"))
# SIM desk phones (fixed wireless terminals, 无线座机) as offices use them.
DESKPHONE_MODELS = (("Huawei", "F316"), ("ZTE", "WP650"), ("Dinstar", "FWT-4G"),
                    ("Lingyang", "LY-F5"))


@dataclass(frozen=True)
class Tacs:
    """The TACs of the simulated province's devices; ``listed`` ones appear in device_intel."""

    phone: np.ndarray  # int64, 8 digits
    phone_vendor: np.ndarray  # int8 index into PHONE_VENDORS
    phone_listed: np.ndarray  # bool
    goip: np.ndarray
    simbank: np.ndarray
    modem: np.ndarray
    deskphone: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    deskphone_listed: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


def with_deskphones(rng: np.random.Generator, tacs: Tacs, listed_share: float) -> Tacs:
    """``tacs`` plus desk-phone TACs (distinct from the others), ``listed_share`` of them listed."""
    taken = set(np.concatenate([tacs.phone, tacs.goip, tacs.simbank, tacs.modem]).tolist())
    pool = [t for t in rng.integers(86_000_000, 86_999_999, 4 * len(DESKPHONE_MODELS)).tolist()
            if t not in taken]
    codes = np.array(list(dict.fromkeys(pool))[: len(DESKPHONE_MODELS)], dtype=np.int64)
    listed = rng.random(len(codes)) < listed_share
    return replace(tacs, deskphone=codes, deskphone_listed=listed)


def make_tacs(rng: np.random.Generator, n_phone: int = 400) -> Tacs:
    """Distinct 8-digit TACs: many phone models, a few GOIP, SIM-bank and modem models."""
    n = n_phone + len(GOIP_MODELS) + len(SIMBANK_MODELS) + len(MODEM_MODELS)
    # Real TACs start with 35 or 86 (GSMA reporting bodies); keep to those ranges.
    pool = np.unique(
        np.concatenate(
            [rng.integers(35_000_000, 35_999_999, n * 2), rng.integers(86_000_000, 86_999_999, n)]
        )
    )
    tacs = rng.permutation(pool)[:n]
    g, s = len(GOIP_MODELS), len(SIMBANK_MODELS)
    return Tacs(
        phone=tacs[:n_phone],
        phone_vendor=rng.integers(0, len(PHONE_VENDORS), n_phone).astype(np.int8),
        phone_listed=rng.random(n_phone) < 0.7,
        goip=tacs[n_phone : n_phone + g],
        simbank=tacs[n_phone + g : n_phone + g + s],
        modem=tacs[n_phone + g + s :],
    )


def luhn_complete(body: np.ndarray) -> np.ndarray:
    """Append the Luhn check digit to 14-digit IMEI bodies (int64), giving 15-digit IMEIs."""
    digits = np.zeros((len(body), 14), dtype=np.int64)
    b = body.copy()
    for i in range(13, -1, -1):
        digits[:, i] = b % 10
        b //= 10
    doubled = digits[:, 1::2] * 2
    total = digits[:, 0::2].sum(axis=1) + (doubled // 10 + doubled % 10).sum(axis=1)
    return body * 10 + (10 - total % 10) % 10


def imeis(rng: np.random.Generator, tacs: np.ndarray, weights: np.ndarray | None = None,
          n: int = 0) -> np.ndarray:
    """``n`` IMEIs (int64, 15 digits) on TACs drawn from ``tacs`` (optionally weighted)."""
    p = None if weights is None else weights / weights.sum()
    tac = rng.choice(tacs, size=n, p=p)
    return luhn_complete(tac * 1_000_000 + rng.integers(0, 1_000_000, n))


def phone_popularity(rng: np.random.Generator, n: int) -> np.ndarray:
    """Zipf-like popularity of phone models: a few models are most of the market."""
    return 1.0 / np.arange(1, n + 1) ** 1.1 * rng.uniform(0.5, 1.5, n)


def imsis(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct China Mobile IMSIs (460 00/02/07 + 10 digits) as 15-digit strings."""
    mnc = np.array([0, 2, 7])[rng.integers(0, 3, n)]
    msin = rng.permutation(rng.choice(10**10, size=n, replace=False))
    return np.array([f"460{m:02d}{x:010d}" for m, x in zip(mnc, msin, strict=True)], dtype=object)


def id_hashes(labels: list[str] | np.ndarray, key: bytes) -> np.ndarray:
    """HMAC-SHA256 hex digests of identity labels under ``key`` (never the raw identity)."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)  # key schedule done once, then copied

    def one(label: object) -> str:
        """The digest of one label."""
        h = keyed.copy()
        h.update(str(label).encode())
        return h.hexdigest()

    return np.array([one(s) for s in labels], dtype=object)
