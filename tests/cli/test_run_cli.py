"""`telshield run` in process: a simulated clock, the den step on its cadence, the data-directory
guard, one cycle per data directory."""

from __future__ import annotations

import fcntl
import re
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from telshield.cli import _register, app, exit_code
from telshield.domain.errors import TelshieldError
from telshield.reference.schemas import FEEDS
from telshield.services.cycle import StateFile


def _drop(root: Path) -> None:
    rows = [{"call_id": f"K{i}", "started_at": datetime(2026, 11, 1, 8, i), "duration_s": 30,
             "caller": "8613800000001", "callee": f"86139000000{i:02d}", "ingress": "radio"}
            for i in range(5)]
    schema = FEEDS["calls"].schema
    (root / "calls").mkdir(parents=True)
    pq.write_table(pa.table({f.name: pa.array([r.get(f.name) for r in rows], f.type)
                             for f in schema}, schema=schema), root / "calls" / "c.parquet")


def _invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    _register()
    r = CliRunner().invoke(app, list(args), env={"TELSHIELD_CYCLE__METRICS_PORT": "0",
                                                   "TELSHIELD_CYCLE__SETTLE_SECONDS": "0",
                                                   "COLUMNS": "200", **(env or {})})
    if isinstance(r.exception, TelshieldError):  # as `main` maps it
        return exit_code(r.exception), r.output + str(r.exception)
    return r.exit_code, r.output


def test_ticks_on_a_simulated_clock(tmp_path: Path) -> None:
    _drop(tmp_path / "drop")
    data = tmp_path / "data"
    code, out = _invoke("run", "--watch", str(tmp_path / "drop"), "--start", "2026-11-01 09:00",
                        "--every", "30m", "--ticks", "3", "--init", "--data-dir", str(data))
    assert code == 0, out
    assert "ingested 1 file(s), 5 rows added" in out
    for t in ("2026-11-01 09:00", "2026-11-01 09:30", "2026-11-01 10:00"):
        assert t in out
    assert "snapshot 20261101T100000-" in out
    state = StateFile(data / "cycle" / "state.json").load()
    assert state.last_tick == datetime(2026, 11, 1, 10) == state.detected_until
    assert (data / "screening" / "snapshot").exists()


def test_the_den_step_runs_on_its_cadence_and_says_what_it_found(tmp_path: Path) -> None:
    from tests.services import denlake

    data = tmp_path / "data"
    denlake.write(data / "lake")
    code, out = _invoke("run", "--start", "2026-11-05 00:00", "--every", "1h", "--ticks", "3",
                        "--init", "--data-dir", str(data),
                        env={"TELSHIELD_DENS__IN_CYCLE": "true", "TELSHIELD_DENS__EVERY": "2h",
                             "TELSHIELD_DENS__LOOKBACK_HOURS": "120"})
    assert code == 0, out
    # One line a tick; the console may fold a line (its width is fixed when the module is
    # imported), so the ticks are read from the words.
    ticks = re.split(r"(?=2026-11-05 \d\d:\d\d clues )", " ".join(out.split()))[1:]
    assert len(ticks) == 3, out
    assert "dens 1 new, 0 updated" in ticks[0]
    assert "dens" not in ticks[1]  # not due an hour later
    assert "dens 0 new, 1 updated" in ticks[2]  # two hours later: the same den, updated
    state = StateFile(data / "cycle" / "state.json").load()
    assert state.dens_until == datetime(2026, 11, 5, 2) and state.gangs_until is None
    code, out = _invoke("dens", "list", "--data-dir", str(data))
    assert code == 0 and out.count("DEN-") == 1, out


def test_a_data_directory_without_a_store_is_refused(tmp_path: Path) -> None:
    code, out = _invoke("run", "--start", "2026-11-01 09:00", "--ticks", "1", "--data-dir",
                        str(tmp_path / "typo"))
    assert code == 3 and "--init" in out
    assert not (tmp_path / "typo" / "telshield.db").exists()


def test_one_cycle_per_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = _invoke("init", "--data-dir", str(data))
    assert code == 0, out
    (data / "cycle").mkdir()
    with (data / "cycle" / "run.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, out = _invoke("run", "--start", "2026-11-01 09:00", "--ticks", "1",
                            "--data-dir", str(data))
    assert code == 4 and "another `telshield run`" in out


def test_screen_build_from_the_store_publishes_what_a_tick_would(tmp_path: Path) -> None:
    from telshield.screening.publish import current_version, load_current

    data = tmp_path / "data"
    assert _invoke("init", "--data-dir", str(data))[0] == 0
    assert _invoke("lists", "import", str(_lists(tmp_path)), "--data-dir", str(data))[0] == 0
    code, out = _invoke("screen", "build", "--from-store", "--at", "2026-11-01 09:00",
                        "--data-dir", str(data))
    assert code == 0, out
    folder = data / "screening" / "snapshot"
    version = current_version(folder)
    assert version is not None and version.startswith("20261101T090000-l1-")
    assert f"snapshot {version} from the store" in " ".join(out.split())
    assert load_current(folder).list_numbers.tolist() == [8613800000001]
    code, out = _invoke("screen", "build", "--from-store", "--lists", str(_lists(tmp_path)),
                        "--data-dir", str(data))
    assert code == 2 and "give no files" in out


def _lists(tmp_path: Path) -> Path:
    path = tmp_path / "lists.csv"
    path.write_text("kind,value,value_end,colour,source,reason,expires_at,police_ordered\n"
                    "number,8613800000001,,black,manual,fraud line,,false\n")
    return path
