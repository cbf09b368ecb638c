"""Judging the staff risk ranking against a gangs truth table: ranks, the top-N counts per staff
ID and per gang, and the check's threshold."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from telshield.domain.errors import InvalidInput
from telshield.domain.regrisk import RiskRow
from telshield.evaluate.staff_risk import colluding_staff, gang_cards, judge


def test_judge_against_gang_truth(tmp_path: Path) -> None:
    (tmp_path / "truth").mkdir()
    pq.write_table(pa.table({"gang_id": ["G1", "G2"],
                             "staff_ids": [["ST-1", "ST-2"], ["ST-3"]],
                             "msisdns": [["8613800000001"], ["8613800000002"]]}),
                   tmp_path / "truth" / "gangs.parquet")
    colluding = colluding_staff(tmp_path)
    assert colluding == {"ST-1": "G1", "ST-2": "G1", "ST-3": "G2"}
    assert gang_cards(tmp_path) == {"G1": {"8613800000001"}, "G2": {"8613800000002"}}
    ranked = [RiskRow("ST-1", 30, 9, 0, 0, 9), RiskRow("ST-9", 30, 6, 0, 0, 6),
              RiskRow("ST-2", 30, 5, 0, 0, 5), RiskRow("ST-3", 30, 1, 0, 0, 1)]
    r = judge(ranked, colluding, top=2, share_verify=0.1, bad_cards={"G1": 3, "G2": 0})
    assert r.ranks == {"ST-1": 1, "ST-2": 3, "ST-3": 4}
    assert (r.in_top, r.top_precision, r.gangs_in_top, r.gangs) == (1, 0.5, 1, 2)
    # Lower bounds: 9/30 0.167, 6/30 0.095, 5/30 0.073, 1/30 0.006.
    assert (r.flagged, r.flagged_colluding) == (1, 1)
    assert (r.gangs_with_signal, r.gangs_with_signal_in_top) == (1, 1)
    with pytest.raises(InvalidInput, match="gang truth"):
        colluding_staff(tmp_path / "nowhere")
