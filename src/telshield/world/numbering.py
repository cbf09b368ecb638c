"""Real +86 number segments, taken once per run from ``phonenumbers``'s carrier and geocoder data.

A Chinese mobile number is 1 + a 6-digit H-code block + 4 digits; the H-code (the first seven
national digits) says the operator and the home city. We sample numbers inside real H-codes so
that a numbering plan built from the same data classifies them correctly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from telshield.world.geography import AREA_CODES, CITIES, PROVINCE

OPERATORS = ("China Mobile", "China Unicom", "China Telecom", "China Broadnet")
CM, CU, CT, CBN = 0, 1, 2, 3
FOREIGN = 9

# Foreign country codes seen on international ingress, with national number lengths.
FOREIGN_PLANS: tuple[tuple[str, int], ...] = (
    ("1", 10), ("44", 10), ("60", 9), ("63", 10), ("66", 9), ("81", 10),
    ("852", 8), ("855", 9), ("886", 9), ("95", 9), ("65", 8), ("61", 9),
)

# Service numbers spoofers present (bank lines, police), written as E.164 digits after 86.
SERVICE_NUMBERS = ("95588", "95599", "95533", "95566", "95555", "95559", "110", "12315")


@dataclass(frozen=True)
class Segments:
    """Mobile H-codes (7 national digits as int) grouped by operator and home region."""

    hcode: np.ndarray  # int64, e.g. 1390025
    operator: np.ndarray  # int8, index into OPERATORS
    jiangsu_city: np.ndarray  # int16, index into CITIES, -1 outside Jiangsu
    province: np.ndarray  # object: province name

    def pick(self, mask: np.ndarray) -> np.ndarray:
        """The H-codes where ``mask`` holds."""
        return self.hcode[mask]


def _carrier_of(prefix: str, carriers: dict[str, dict[str, str]]) -> int:
    for n in (6, 5, 4):
        entry = carriers.get(prefix[:n])
        if entry is not None:
            name = entry.get("en", "")
            return OPERATORS.index(name) if name in OPERATORS else -1
    return -1


@cache  # a few seconds of parsing; the data never changes within a process (many worlds)
def load_segments() -> Segments:
    """Every +86 mobile H-code the geocoder knows, with its operator and home region."""
    from phonenumbers.carrierdata import CARRIER_DATA
    from phonenumbers.geodata import GEOCODE_DATA

    carriers = {k: v for k, v in CARRIER_DATA.items() if k.startswith("861")}
    regions: dict[str, str] = {}
    # 8-digit keys cover ten H-codes; 9-digit keys override them (longest prefix wins).
    for key, names in GEOCODE_DATA.items():
        if key.startswith("861") and len(key) == 8:
            for d in "0123456789":
                regions[key + d] = names.get("en", "")
    for key, names in GEOCODE_DATA.items():
        if key.startswith("861") and len(key) == 9:
            regions[key] = names.get("en", "")
    hcodes, ops, cities, provinces = [], [], [], []
    city_index = {c.replace("'", "").lower(): i for i, c in enumerate(CITIES)}
    for key, where in regions.items():
        if not where:
            continue
        op = _carrier_of(key, carriers)
        if op < 0:
            continue
        parts = [p.strip() for p in where.split(",")]
        province = parts[-1]
        city = -1
        if province == PROVINCE and len(parts) == 2:
            city = city_index.get(parts[0].replace("'", "").lower(), -1)
            if city < 0:
                continue
        hcodes.append(int(key[2:]))
        ops.append(op)
        cities.append(city)
        provinces.append(province)
    order = np.argsort(np.array(hcodes, dtype=np.int64), kind="stable")
    seg = Segments(
        hcode=np.array(hcodes, dtype=np.int64)[order],
        operator=np.array(ops, dtype=np.int8)[order],
        jiangsu_city=np.array(cities, dtype=np.int16)[order],
        province=np.array(provinces, dtype=object)[order],
    )
    for arr in (seg.hcode, seg.operator, seg.jiangsu_city, seg.province):
        arr.flags.writeable = False  # shared by every province of the process (cached)
    return seg


def mobile_numbers(rng: np.random.Generator, hcodes: np.ndarray, n: int) -> np.ndarray:
    """``n`` E.164 mobile numbers (int64, 86 + 11 digits) inside the given H-codes."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    chosen = hcodes[rng.integers(0, len(hcodes), n)]
    return 86 * 10**11 + chosen * 10_000 + rng.integers(0, 10_000, n)


def unique_mobile_numbers(
    rng: np.random.Generator, hcodes: np.ndarray, n: int, taken: set[int] | None = None
) -> np.ndarray:
    """``n`` distinct mobile numbers inside the H-codes, none of them in ``taken``."""
    out = np.zeros(0, dtype=np.int64)
    while len(out) < n:
        cand = np.unique(np.concatenate([out, mobile_numbers(rng, hcodes, n - len(out) + 16)]))
        if taken:
            cand = cand[np.fromiter((x not in taken for x in cand.tolist()), bool, len(cand))]
        out = cand
    return rng.permutation(out)[:n]


def foreign_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` foreign E.164 numbers (country code + national digits), as int64."""
    plan = rng.integers(0, len(FOREIGN_PLANS), n)
    out = np.zeros(n, dtype=np.int64)
    for i, (cc, length) in enumerate(FOREIGN_PLANS):
        m = plan == i
        k = int(m.sum())
        first = rng.integers(2, 10, k)  # national numbers do not start with 0 or 1
        rest = rng.integers(0, 10 ** (length - 1), k)
        out[m] = int(cc) * 10**length + first * 10 ** (length - 1) + rest
    return out


def landline_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` Jiangsu landline numbers (86 + area code + 8 digits), as int64."""
    codes = np.array([int(AREA_CODES[c]) for c in CITIES], dtype=np.int64)
    code = codes[rng.integers(0, len(codes), n)]
    local = rng.integers(2_000_0000, 8_999_9999, n)
    return (86 * np.where(code < 100, 100, 1000) + code) * 10**8 + local


def service_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` service numbers (bank lines, police) as 86 + the short code, int64."""
    codes = np.array([int("86" + s) for s in SERVICE_NUMBERS], dtype=np.int64)
    return codes[rng.integers(0, len(codes), n)]


def is_domestic(numbers: np.ndarray) -> np.ndarray:
    """Whether each E.164 number (int64) has China's country code, 86."""
    x = np.maximum(numbers, 1).astype(np.int64)
    width = np.floor(np.log10(x.astype(np.float64))).astype(np.int64) + 1
    return (x // 10 ** np.maximum(width - 2, 0)) == 86
