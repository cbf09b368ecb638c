"""Settings: a misspelt key is refused with the nearest valid one, in a file and in the
environment, at every nesting level; variables outside the prefix are ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from telshield.domain.errors import InvalidInput
from telshield.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("TELSHIELD_"):
            monkeypatch.delenv(name)


def _toml(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "telshield.toml"
    f.write_text(text, encoding="utf-8")
    return f


@pytest.mark.parametrize(
    ("text", "unknown", "suggestion", "line"),
    [
        ("data_dri = '/srv'\n", "data_dri", "data_dir", 1),
        ("[detect]\nwatch = 0.4\nwach = 0.3\n", "detect.wach", "detect.watch", 3),
        ("[detct]\nwatch = 0.3\n", "detct", "detect", 1),
        ("[screening]\nsip_metric_port = 9\n", "screening.sip_metric_port",
         "screening.sip_metrics_port", 2),
        ("store = { ulr = 'sqlite://' }\n", "store.ulr", "store.url", None),
        ("[registration]\ncards_per_di = 4\n", "registration.cards_per_di",
         "registration.cards_per_id", 2),
    ],
)
def test_a_misspelt_key_in_a_file_is_refused_with_the_nearest_one(
    tmp_path: Path, text: str, unknown: str, suggestion: str, line: int | None
) -> None:
    f = _toml(tmp_path, text)
    with pytest.raises(InvalidInput) as e:
        load_settings(f)
    msg = str(e.value)
    assert f"unknown setting `{unknown}`" in msg
    assert f"did you mean `{suggestion}`?" in msg
    assert str(f) in msg
    if line is not None:
        assert f"line {line}" in msg


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("TELSHIELD_DATA_DRI", "TELSHIELD_DATA_DIR"),
        ("TELSHIELD_DETECT__WACH", "TELSHIELD_DETECT__WATCH"),
        ("TELSHIELD_DETCT__WATCH", "TELSHIELD_DETECT__WATCH"),
        ("telshield_screening__http_tokn", "TELSHIELD_SCREENING__HTTP_TOKEN"),
    ],
)
def test_a_misspelt_environment_variable_is_refused_with_the_nearest_one(
    monkeypatch: pytest.MonkeyPatch, name: str, suggestion: str
) -> None:
    monkeypatch.setenv(name, "0.3")
    for make in (load_settings, Settings):
        with pytest.raises(InvalidInput) as e:
            make()
        msg = str(e.value)
        assert name in msg and "unknown setting" in msg
        assert f"did you mean {suggestion}?" in msg


def test_a_value_given_sub_keys_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELSHIELD_DETECT__WATCH__LOW", "0.3")
    with pytest.raises(InvalidInput, match=r"`detect\.watch` is a value, not a section"):
        Settings()


def test_no_close_key_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as e:
        load_settings(_toml(tmp_path, "[api]\nzzzzzz = 1\n"))
    assert "valid keys in [api]: host, " in str(e.value)


def test_good_keys_outside_the_prefix_and_free_form_tables_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELSHIELD_DETECT__WATCH", "0.4")
    monkeypatch.setenv("TELSHIELD_LOG_LEVEL", "info")  # read by the CLI, not a setting
    monkeypatch.setenv("TELSHIELD_CONFIG", "x.toml")  # read by the ASGI factories
    monkeypatch.setenv("TELSHIELDX_DATA_DRI", "1")  # not our prefix
    monkeypatch.setenv("OTHER_DATA_DRI", "1")
    f = _toml(tmp_path, "[disposal.tier_actions]\nwatch = ''\nverify = 'verify'\n"
                        "suspend = 'suspend'\n[detect]\nverify = 0.8\n")
    s = load_settings(f, data_dir=tmp_path)
    assert s.detect.watch == 0.4 and s.detect.verify == 0.8
    assert s.disposal.tier_actions["suspend"] == "suspend" and s.data_dir == tmp_path


def test_a_bad_value_names_the_file_and_the_key(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as e:
        load_settings(_toml(tmp_path, "[detect]\nwatch = 3\n"))
    msg = str(e.value)
    assert "`detect.watch`" in msg and "telshield.toml" in msg and "less than or equal" in msg


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_settings(_toml(tmp_path, "[detect\nwatch = 3\n"))


def test_a_bad_secret_is_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as e:
        load_settings(_toml(tmp_path, "[store]\nurl = ['postgresql://u:hunter2@db/x']\n"))
    assert "`store.url`" in str(e.value) and "hunter2" not in str(e.value)


def test_registration_settings(tmp_path: Path) -> None:
    s = load_settings(_toml(tmp_path, "[registration]\ncards_per_id = 3\n"))
    assert s.registration.cards_per_id == 3 and s.registration.staff_hour_refuse == 60
    with pytest.raises(InvalidInput) as e:
        load_settings(_toml(tmp_path, "[registration]\nstaff_hour_verify = 60\n"))
    assert "staff_hour_refuse (60) must be above staff_hour_verify (60)" in str(e.value)
    with pytest.raises(InvalidInput):
        load_settings(_toml(tmp_path, "[registration]\ncards_per_id = 0\n"))


@pytest.mark.parametrize("path", [None, Path("deploy/telshield.toml.example")])
def test_sip_workers_metrics_ports_clear_of_the_api_and_cycle(path: Path | None) -> None:
    """Worker i of the SIP face serves metrics on sip_metrics_port + i: up to ten workers must
    not take the API's or the cycle's metrics port, by default or in the example settings."""
    root = Path(__file__).resolve().parents[1]
    s = load_settings(root / path) if path else Settings()
    sip = set(range(s.screening.sip_metrics_port, s.screening.sip_metrics_port + 10))
    assert s.api.metrics_port not in sip
    assert s.cycle.metrics_port not in sip


def test_den_and_gang_cycle_steps(tmp_path: Path) -> None:
    s = load_settings()
    assert (s.dens.in_cycle, s.dens.every, s.gangs.in_cycle, s.gangs.every) == (
        False, "6h", False, "1d")
    s = load_settings(_toml(tmp_path, "[dens]\nin_cycle = true\nevery = '12h'\n"
                                      "[gangs]\nin_cycle = true\nevery = '2d'\n"))
    assert (s.dens.in_cycle, s.dens.every, s.gangs.in_cycle, s.gangs.every) == (
        True, "12h", True, "2d")
    for section, bad in (("dens", "6"), ("dens", "0h"), ("gangs", "1w"), ("gangs", "-1d")):
        with pytest.raises(InvalidInput) as e:
            load_settings(_toml(tmp_path, f"[{section}]\nevery = '{bad}'\n"))
        assert f"`{section}.every`" in str(e.value) and "not a duration like" in str(e.value)
    with pytest.raises(InvalidInput, match=r"dens\.in_cycle"):
        load_settings(_toml(tmp_path, "[dens]\nin_cylce = true\n"))
