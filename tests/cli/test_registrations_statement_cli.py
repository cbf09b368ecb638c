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
            "我本人实名登记并领取了尾号8642的电话卡", data=tmp_path)
    got = json.loads(r.stdout)
    assert got["decision"] == "verify" and got["statement"]["tail_heard"] == "8642"
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


def test_a_near_miss_is_retaken_from_the_command_line(tmp_path: Path) -> None:
    init = subprocess.run([sys.executable, "-m", "telshield", "init", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert init.returncode == 0, init.stderr
    near = "我本人实名登记并领取了尾号1357的电话卡"  # the number ends 1358: one digit off
    r = run(*ASK, "--number", "13800001358", "--transcript", near, data=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("retake") and "statement_retake" in r.stdout
    assert "check again with --retake-transcript" in r.stdout and "appeal" not in r.stdout
    r = run(*ASK, "--number", "13800001358", "--json", "--transcript", near,
            "--retake-transcript", "我本人实名登记并领取了尾号幺三五八的电话卡", data=tmp_path)
    got = json.loads(r.stdout)
    assert got["decision"] == "allow" and got["retake"] == "passed" and got["reasons"] == []
    assert got["statement"]["tail_heard"] == "1358" and got["statement"]["passed"] is True
    # A retake nobody asked for is ignored: the first recording is what is judged.
    r = run(*ASK, "--number", "13800001359",
            "--transcript", "我本人实名登记并领取了尾号8642的电话卡",
            "--retake-transcript", "我本人实名登记并领取了尾号1359的电话卡", data=tmp_path)
    assert r.stdout.startswith("verify") and "statement_mismatch" in r.stdout
    assert "retake: ignored" in r.stdout
    r = run(*ASK, "--number", "13800001360", "--retake-audio", str(tmp_path / "a.wav"),
            "--retake-transcript", "x", data=tmp_path)
    assert r.returncode == 2 and "not both" in r.stderr
