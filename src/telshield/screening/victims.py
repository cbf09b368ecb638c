"""Victim protection (预警劝阻): callees who received calls from numbers now under warning are
listed for a warning SMS, and go into the snapshot as protected callees, so that later calls
from warned numbers to them are flagged (``victim:protected``)."""

from __future__ import annotations

import numpy as np

from telshield.screening.numbering import I64


def victims_of(warned: I64, callers: I64, callees: I64) -> I64:
    """Sorted distinct callees of calls whose caller is in ``warned`` (all int64 arrays)."""
    if warned.size == 0 or callers.size == 0:
        return np.empty(0, dtype=np.int64)
    keys = np.sort(warned)
    i = np.minimum(np.searchsorted(keys, callers), keys.size - 1)
    hit = keys[i] == callers
    out = np.sort(callees[hit])
    if out.size == 0:
        return out
    keep = np.concatenate(([True], out[1:] != out[:-1])) & (out > 0)
    return out[keep]


def new_victims(found: I64, already: I64) -> I64:
    """The victims in ``found`` not yet in ``already`` (both sorted): who gets an SMS now."""
    if already.size == 0:
        return found
    i = np.minimum(np.searchsorted(already, found), already.size - 1)
    return found[already[i] != found]
