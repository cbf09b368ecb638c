"""The social graph: who knows whom, closest contacts first, ties shared by both ends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Contacts:
    """Each node's contacts in CSR form, ordered from the strongest tie to the weakest."""

    offset: np.ndarray  # int64 [n + 1]
    contact: np.ndarray  # int32

    def degree(self, nodes: np.ndarray) -> np.ndarray:
        """Number of contacts of each node."""
        return self.offset[nodes + 1] - self.offset[nodes]

    def pick(self, rng: np.random.Generator, nodes: np.ndarray, circle: np.ndarray,
             concentration: float, outside: float) -> np.ndarray:
        """One contact per entry of ``nodes`` (which must have contacts).

        Most calls go to the node's circle, its ``circle`` closest contacts, position k of c
        drawn as floor(c * u**concentration) (1 = evenly, higher = the closest most often);
        a share ``outside`` goes to any contact at all.
        """
        deg = self.degree(nodes)
        c = np.where(rng.random(len(nodes)) < outside, deg, np.minimum(circle, deg))
        k = np.floor(c * rng.random(len(nodes)) ** concentration).astype(np.int64)
        return self.contact[self.offset[nodes] + np.minimum(k, deg - 1)]


def build(
    rng: np.random.Generator,
    group: np.ndarray,
    sociable: np.ndarray,
    *,
    median: float,
    sigma: float,
    max_degree: int,
    local_share: float,
) -> Contacts:
    """A configuration-model graph: heavy-tailed degrees, mostly within a node's group (city).

    Stubs are paired after sorting by (group, random), so a stub marked local meets another
    stub of its own group; the rest meet anyone. Ties get one strength seen from both ends,
    which makes calling reciprocal: my closest contact is likely to count me among theirs.
    """
    n = len(group)
    who = np.flatnonzero(sociable)
    deg = np.clip(np.exp(rng.normal(np.log(median), sigma, len(who))), 1, max_degree)
    stubs = np.repeat(who, deg.astype(np.int64)).astype(np.int64)
    g_max = int(group.max()) + 2
    stubs = rng.permutation(stubs)  # then a stable sort by group pairs stubs at random within it
    local = rng.random(len(stubs)) < local_share
    g = np.where(local, group[stubs], g_max - 1).astype(np.uint16)
    stubs = stubs[np.argsort(g, kind="stable")]
    m = len(stubs) // 2 * 2
    a, b = stubs[0:m:2], stubs[1:m:2]
    keep = a != b
    a, b = a[keep], b[keep]
    strength = rng.integers(0, 2**STRENGTH_BITS, len(a), dtype=np.uint64)
    src = np.concatenate([a, b]).astype(np.uint64)
    dst = np.concatenate([b, a]).astype(np.int32)
    weakness = (2**STRENGTH_BITS - 1) - np.concatenate([strength, strength])
    order = radix_argsort((src << np.uint64(STRENGTH_BITS)) | weakness)
    count = np.bincount(src.astype(np.int64), minlength=n)
    offset = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)
    return Contacts(offset=offset, contact=dst[order])


STRENGTH_BITS = 12


def radix_argsort(key: np.ndarray) -> np.ndarray:
    """Stable argsort of non-negative integer keys, 16 bits a pass (NumPy radix-sorts those)."""
    key = key.astype(np.uint64)
    order = np.arange(len(key))
    top = int(key.max()) if len(key) else 0
    shift = 0
    while shift == 0 or top >> shift:
        digit = ((key[order] >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
    return order
