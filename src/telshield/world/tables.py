"""Arrow schemas of the feeds the simulator writes (the feed contract's own, from
``telshield.reference.schemas``) and of its truth tables, and the conversions from numpy arrays
to Arrow tables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from telshield.reference.schemas import FEEDS

TS = pa.timestamp("us")
S = pa.string()


def _schema(*cols: tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema([pa.field(n, t, nullable=null) for n, t, null in cols])


# The feeds the simulator writes have exactly the contract's schemas: one definition, read here.
FEED_SCHEMAS: dict[str, pa.Schema] = {name: feed.schema for name, feed in FEEDS.items()}

TRUTH_SCHEMAS: dict[str, pa.Schema] = {
    "numbers": _schema(("msisdn", S, False), ("role", S, False), ("scenario", S, False),
                       ("ours", pa.bool_(), False), ("operator", S, True), ("home", S, True),
                       ("den_id", S, True), ("gang_id", S, True), ("active_from", TS, True),
                       ("active_to", TS, True), ("first_fraud_call_at", TS, True),
                       ("first_victim_call_at", TS, True), ("reverifies", pa.bool_(), True),
                       ("reverify_after_h", pa.float64(), True)),
    "calls": _schema(("call_id", S, False), ("is_fraud", pa.bool_(), False),
                     ("scenario", S, False), ("route", S, False)),
    "dens": _schema(("den_id", S, False), ("kind", S, False), ("cell_ids", pa.list_(S), False),
                    ("county", S, False), ("city", S, False), ("ports", pa.int32(), False),
                    ("tac", S, True), ("imeis", S, False), ("msisdns", pa.list_(S), False)),
    "gangs": _schema(("gang_id", S, False), ("channel_ids", pa.list_(S), False),
                     ("staff_ids", pa.list_(S), False), ("id_hashes", pa.list_(S), False),
                     ("msisdns", pa.list_(S), False), ("address_hashes", pa.list_(S), False),
                     ("device_ids", pa.list_(S), False), ("contact_msisdns", pa.list_(S), False)),
    "registrations": _schema(("attempt_id", S, False), ("kind", S, False), ("gang_id", S, True),
                             ("statement", S, False), ("said", S, True), ("errors", S, False)),
    # The second recording of each application's statement, had the check asked for one.
    "registration_retakes": _schema(("attempt_id", S, False), ("retake_transcript", S, True),
                                    ("errors", S, False), ("replayed", pa.bool_(), False)),
}


def digits(values: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """int64 numbers as digit strings (Arrow's own cast: fast), null where ``null`` holds."""
    arr = pa.array(values, type=pa.int64(), mask=null)
    return pc.cast(arr, S)


def pick(labels: pa.Array, index: np.ndarray) -> pa.Array:
    """``labels[index]``, null where index < 0."""
    idx = pa.array(np.maximum(index, 0), type=pa.int64(), mask=index < 0)
    return pc.take(labels, idx)


def times(start: datetime, seconds: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Seconds from ``start`` as naive microsecond timestamps."""
    base = int((start - datetime(1970, 1, 1)).total_seconds())
    us = (base + seconds.astype(np.int64)) * 1_000_000
    return pa.array(us, type=pa.int64(), mask=null).cast(TS)


def prefixed(prefix: str, seq: np.ndarray) -> pa.Array:
    """Identifiers like C0000012345: a prefix and a zero-padded sequence number."""
    s = pc.utf8_lpad(pc.cast(pa.array(seq, type=pa.int64()), S), width=10, padding="0")
    return pc.binary_join_element_wise(prefix, s, "")


def table(name: str, columns: Mapping[str, Any],
          schemas: dict[str, pa.Schema] | None = None) -> pa.Table:
    """A feed (or truth) table with exactly its schema's columns, order and types."""
    schema = (schemas or FEED_SCHEMAS)[name]
    arrays = []
    for f in schema:
        col = columns[f.name]
        arrays.append(col.cast(f.type) if isinstance(col, pa.Array) else pa.array(col, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)
