"""Small feed folders for service tests: one Parquet file per feed, rows given as dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from telshield.reference.schemas import FEEDS


def write_feed(root: Path, feed: str, rows: list[dict[str, Any]], name: str = "part") -> Path:
    """Write ``rows`` (missing columns null) as ``root/<feed>/<name>.parquet``; returns the path."""
    schema = FEEDS[feed].schema
    table = pa.table({f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in schema},
                     schema=schema)
    path = root / feed / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path
