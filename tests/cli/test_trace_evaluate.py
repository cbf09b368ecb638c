"""``telshield evaluate trace --find`` on the hand-built den lake: the den finder runs over the
world before the traces, so the stored den is evidence and every den SIM's trace holds all the
den's other SIMs; without ``--find`` nothing is stored and a trace holds only some of them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tests.services.denlake import write

from telshield.cli.trace_evaluate import evaluate
from telshield.settings import Settings


def _world(root: Path) -> list[str]:
    lk = write(root)
    (root / "truth").mkdir()
    pq.write_table(pa.table({"den_id": ["DEN-0001"], "kind": ["goip"],
                             "msisdns": [sorted(lk.den)]}), root / "truth" / "dens.parquet")
    pq.write_table(pa.table({"gang_id": pa.array([], pa.string()),
                             "msisdns": pa.array([], pa.list_(pa.string()))}),
                   root / "truth" / "gangs.parquet")
    return lk.den


def test_the_finders_run_before_the_traces(tmp_path: Path) -> None:
    world = tmp_path / "world"
    den = _world(world)
    settings = Settings(data_dir=tmp_path / "data")
    cases, dens, gangs = evaluate(settings, world, per_group=2, depth=1, find=True,
                                  step_hours=24)
    assert (dens, gangs) == (1, 0)
    assert len(cases) == 2 and all(c.others == len(den) - 1 for c in cases)
    assert all(c.share == 1.0 for c in cases)  # the stored den links every SIM of it
    cases, dens, gangs = evaluate(Settings(data_dir=tmp_path / "data2"), world, per_group=2,
                                  depth=1, find=False)
    assert (dens, gangs) == (0, 0)
    # without the stored den a trace reaches only the SIMs sharing its port or hours
    assert all(c.share < 1.0 for c in cases)
