"""The out-of-town scan's suspect features are detection's own: ``suspect_features`` gives, for
every number, the values ``number_features`` gives for the five columns the suspect rule reads,
on a lake with a den starting, a stable baseline and two-way travellers (tests/services/
hotspotlake.py), over a short and a long window."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from tests.services.hotspotlake import UNTIL, write

from telshield.detect.features import Window, number_features, suspect_features
from telshield.reference.numbering import load_plan_table
from telshield.services.lakeread import FeedReader


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    return load_plan_table(tmp_path_factory.mktemp("plan"))


@pytest.mark.parametrize("hours", [12, 72])
def test_equal_to_number_features(tmp_path: Path, plan: pa.Table, hours: int) -> None:
    lake = write(tmp_path / "lake")
    reader = FeedReader(tmp_path / "lake")
    calls, plan_t = reader.table("calls"), reader.memtable(plan)
    w = Window.parse(f"{hours}h")
    cols = ["msisdn", f"distinct_callees_{w.name}", f"new_callee_share_{w.name}",
            f"unanswered_share_{w.name}", f"outgoing_share_{w.name}", "out_of_province"]
    kw = {"until": UNTIL, "lookback": timedelta(days=1), "plan": plan_t, "province": "Jiangsu"}
    full = number_features(calls, windows=(w,), **kw).select(*cols).to_pandas()
    few = suspect_features(calls, window=w, **kw).to_pandas()
    full = full.sort_values("msisdn").reset_index(drop=True)
    few = few.sort_values("msisdn").reset_index(drop=True)
    assert list(few.columns) == cols
    assert len(few) == len(full) > 0
    assert set(lake.den) <= set(few.msisdn)  # the den's numbers are there to be judged
    for c in cols:
        assert few[c].tolist() == full[c].tolist(), c
