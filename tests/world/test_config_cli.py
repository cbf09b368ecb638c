"""Configuration errors say what is wrong; the CLI generates and describes a province."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from telshield.cli import _register, app
from telshield.domain.errors import InvalidInput
from telshield.world.config import load_config


def test_defaults_load_and_file_overrides_them(tmp_path: Path) -> None:
    cfg = load_config()
    assert cfg.world.days == 14 and cfg.world.subscribers > 0
    f = tmp_path / "w.toml"
    f.write_text("[world]\nsubscribers = 1234\n[dens]\nper_100k = 50\n")
    cfg = load_config(f, days=3)
    assert (cfg.world.subscribers, cfg.world.days, cfg.dens.per_100k) == (1234, 3, 50)
    assert cfg.gangs.per_100k == load_config().gangs.per_100k



def test_the_other_mix_in_bench_still_loads() -> None:
    """bench/other_mix.toml (the robustness province in docs/performance.md) stays valid."""
    path = Path(__file__).parents[2] / "bench" / "other_mix.toml"
    cfg, default = load_config(path), load_config()
    assert (cfg.world.subscribers, cfg.world.days) == (50_000, 21)
    assert cfg.roles.courier.share > default.roles.courier.share
    assert cfg.dens.per_100k == 2 * default.dens.per_100k

@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[world]\nsubscriberz = 5\n", "subscriberz"),
        ("[world]\nstart = 'yesterday'\n", "start"),
        ("[dens]\nanswer_rate = 2\n", "answer_rate"),
        ("[world\n", "not valid TOML"),
    ],
)
def test_bad_config_is_refused_with_the_reason(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(InvalidInput, match=match):
        load_config(f)


def test_cli_generates_and_describes(tmp_path: Path) -> None:
    _register()
    runner = CliRunner()
    out = tmp_path / "p"
    r = runner.invoke(app, ["world", "generate", "--out", str(out), "--subscribers", "800",
                            "--days", "2", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert (out / "truth" / "numbers.parquet").exists() and (out / "world.json").exists()
    r = runner.invoke(app, ["world", "describe", str(out)])
    assert r.exit_code == 0, r.output
    assert "calibration" in r.output and "fraud" in r.output
    r = runner.invoke(app, ["world", "generate", "--out", str(out), "--days", "1"])
    assert r.exit_code != 0  # not empty, and --overwrite not given


def test_cli_generates_a_randomised_province_and_shows_the_draw(tmp_path: Path) -> None:
    _register()
    runner = CliRunner()
    out = tmp_path / "r"
    r = runner.invoke(app, ["world", "generate", "--out", str(out), "--subscribers", "600",
                            "--days", "2", "--seed", "1000", "--randomise"])
    assert r.exit_code == 0, r.output
    assert "drawn from the prior" in r.output
    r = runner.invoke(app, ["world", "describe", str(out)])
    assert r.exit_code == 0, r.output
    assert "drawn from the prior" in r.output and "fraud_sim.calls_per_day_median" in r.output
    r = runner.invoke(app, ["world", "prior"])
    assert r.exit_code == 0 and "offices.registered_share" in r.output
