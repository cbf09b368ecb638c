"""The video statement from the command line: ``registration check --transcript`` prints the
score and what did not match; ``--audio`` reads a WAV file and says plainly what to configure
or install when no recogniser is there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

H = "9f" * 32
ASK = ("check", "--id-hash", H, "--channel", "CH-1", "--staff", "ST-1", "--terminal", "T-1")


def run(*args: str, data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "TELSHIELD_DATA_DIR": str(data), "COLUMNS": "200", **env}
    return subprocess.run([sys.executable, "-m", "telshield", "registration", *args],
                          capture_output=True, text=True, env=e, check=False)


def test_check_with_a_transcript_and_with_audio(tmp_path: Path) -> None:
    init = subprocess.run([sys.executable, "-m", "telshield", "init", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert init.returncode == 0, init.stderr
    r = run(*ASK, "--number", "13800002468", "--transcript",
            "嗯，我本人实名登记并领取了尾号二四六八的电话卡", data=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "allow" in r.stdout and "video statement: passed, score 1.00" in r.stdout
    r = run(*ASK, "--number", "13800002469", "--json", "--transcript",
            "我本人实名登记并领取了尾号2468的电话卡", data=tmp_path)
    got = json.loads(r.stdout)
    assert got["decision"] == "verify" and got["statement"]["tail_heard"] == "2468"
    assert [x["code"] for x in got["reasons"]] == ["statement_mismatch"]
    assert "the number ends 2469" in got["statement"]["mismatch"]

    sound = tmp_path / "statement.wav"
    with wave.open(str(sound), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 16000)
    r = run(*ASK, "--number", "13800002470", "--audio", str(sound), data=tmp_path)
    assert r.returncode == 6 and "no speech recogniser is configured" in r.stderr
    model = tmp_path / "vosk-model-small-cn-0.22"
    r = run(*ASK, "--number", "13800002470", "--audio", str(sound), data=tmp_path,
            TELSHIELD_REGISTRATION__STATEMENT_MODEL=str(model))
    assert r.returncode == 6 and f"no Vosk model in {model}" in r.stderr
    r = run(*ASK, "--number", "13800002470", "--audio", str(tmp_path / "none.wav"),
            data=tmp_path)
    assert r.returncode == 2 and "not a readable WAV file" in r.stderr
    r = run(*ASK, "--number", "13800002470", "--audio", str(sound), "--transcript", "x",
            data=tmp_path)
    assert r.returncode == 2 and "not both" in r.stderr
