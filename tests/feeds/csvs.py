"""Write feed rows as a CSV file, as an operator's export would arrive."""

from __future__ import annotations

import csv
from pathlib import Path

from telshield.reference.schemas import CALLS


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    """``rows`` under ``header`` (default: the calls feed's columns); missing fields empty."""
    header = header or CALLS.column_names
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header])
    return path
