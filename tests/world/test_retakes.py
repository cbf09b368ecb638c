"""The retake of each video statement (``truth/registration_retakes.parquet``): drawn last from
a stream of its own, so the registrations feed and every other file of a province are the same
with or without it; honest applicants read their statement again with fresh recognition errors,
the others read what they read before, and a clerk alone replays the same recording."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.world.test_applications import CONFIG, START

from telshield.world import applications
from telshield.world.config import WorldConfig, load_config
from telshield.world.generate import generate
from telshield.world.tables import TRUTH_SCHEMAS


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("retakes")
    (base / "w.toml").write_text(CONFIG)
    cfg = load_config(base / "w.toml", subscribers=2000, days=10, start=START)
    generate(cfg, 4, base / "with")

    def none(rng: object, cfg: WorldConfig, feed: pa.Table, truth: pa.Table) -> pa.Table:
        return TRUTH_SCHEMAS["registration_retakes"].empty_table()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(applications, "retakes", none)
        generate(cfg, 4, base / "without")
    return base / "with", base / "without"


def test_retakes_change_no_feed_and_no_other_truth(worlds: tuple[Path, Path]) -> None:
    with_, without = worlds
    files = sorted(p.relative_to(with_) for p in with_.rglob("*.parquet"))
    assert Path("truth/registration_retakes.parquet") in files
    assert any(f.parts[0] == "registrations" for f in files)
    for f in files:
        if f.name == "registration_retakes.parquet":
            continue
        assert (with_ / f).read_bytes() == (without / f).read_bytes(), f
    assert pq.read_table(without / "truth" / "registration_retakes.parquet").num_rows == 0


def test_who_says_what_on_the_retake(worlds: tuple[Path, Path]) -> None:
    world = worlds[0]
    feed = pq.read_table(world / "registrations").to_pylist()
    truth = pq.read_table(world / "truth" / "registrations.parquet").to_pylist()
    again = pq.read_table(world / "truth" / "registration_retakes.parquet").to_pylist()
    assert len(feed) == len(truth) == len(again)
    by_id = {a["attempt_id"]: a for a in feed}
    fresh = same = 0
    for t, r in zip(truth, again, strict=True):
        a = by_id[t["attempt_id"]]
        assert r["attempt_id"] == t["attempt_id"]
        if t["statement"] == "none":  # IoT
            assert r["retake_transcript"] is None and a["transcript"] is None
        elif r["replayed"]:  # a clerk alone sends the same recording
            assert t["kind"] == "colluding_staff" and r["retake_transcript"] == a["transcript"]
        elif t["statement"] == "silence":
            assert r["retake_transcript"] == ""
        else:
            fresh += 1
            same += r["retake_transcript"] == a["transcript"]
            if t["statement"] == "wrong_digits":  # the other card's tail, read again
                tail = "".join(c for c in str(t["said"]) if c.isdigit())
                assert tail in r["retake_transcript"] or r["errors"]
    # Recognised again: some transcripts come out as they did, many do not.
    assert fresh > 20 and 0 < same < fresh
