"""The Vosk adapter without its model (it cannot be downloaded here): whatever is missing, the
error names what to install and where the model goes, and nothing is loaded before it is
needed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from telshield.domain.errors import InvalidInput, Unavailable
from telshield.settings import RegistrationSettings, Settings
from telshield.speech.vosk import VoskTranscriber
from telshield.wiring.registrations import transcriber


def test_a_missing_model_names_the_folder_and_the_model(tmp_path: Path) -> None:
    t = VoskTranscriber(tmp_path / "vosk-cn")  # building it loads nothing
    with pytest.raises(Unavailable) as e:
        t.transcribe(b"\x00\x00" * 1600, 16000)
    assert f"no Vosk model in {tmp_path / 'vosk-cn'}" in str(e.value)
    assert "vosk-model-small-cn-0.22" in str(e.value) and "am/final.mdl" in str(e.value)


def test_a_missing_engine_names_what_to_install(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "vosk", None)  # as on a machine without it
    with pytest.raises(Unavailable, match=r"not installed: run `pip install vosk==0\.3\.45`"):
        VoskTranscriber(tmp_path).transcribe(b"\x00\x00" * 1600, 16000)


def test_a_sample_rate_out_of_range_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="sample rate 4000 Hz"):
        VoskTranscriber(tmp_path).transcribe(b"\x00\x00", 4000)


def test_wiring_builds_it_only_when_a_model_is_set(tmp_path: Path) -> None:
    assert transcriber(Settings(data_dir=tmp_path)) is None
    t = transcriber(Settings(data_dir=tmp_path,
                             registration=RegistrationSettings(statement_model=tmp_path / "m")))
    assert isinstance(t, VoskTranscriber) and t.model_dir == tmp_path / "m"
