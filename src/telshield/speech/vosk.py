"""Vosk (Kaldi) with its Chinese model: an offline recogniser that runs on a CPU, so a
statement's sound never leaves the operator's network.

Install the engine with ``pip install vosk==0.3.45`` and unpack a Chinese model, e.g.
``vosk-model-small-cn-0.22`` (about 42 MB) or ``vosk-model-cn-0.22`` (server, 1.3 GB), into the
folder named by ``registration.statement_model`` (docs/registration.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from telshield.domain.errors import InvalidInput, Unavailable

INSTALL = "pip install vosk==0.3.45"
MODEL_HINT = ("unpack a Vosk Chinese model (vosk-model-small-cn-0.22 or vosk-model-cn-0.22, "
              "from the Vosk models page) so that {path}/am/final.mdl exists, or set "
              "registration.statement_model to where it is")


class VoskTranscriber:
    """Transcribes mono 16-bit PCM with a Vosk model loaded from ``model_dir`` at first use."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = Path(model_dir)
        self._model: Any = None

    def _engine(self) -> Any:
        if not (self.model_dir / "am" / "final.mdl").is_file():
            raise Unavailable(f"no Vosk model in {self.model_dir}: "
                              + MODEL_HINT.format(path=self.model_dir))
        try:
            import vosk  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise Unavailable(f"the Vosk speech recogniser is not installed: run `{INSTALL}` in "
                              "telshield's environment") from None
        if self._model is None:
            vosk.SetLogLevel(-1)  # Kaldi logs to stderr otherwise; our logs are structured
            self._model = vosk.Model(str(self.model_dir))
        return vosk

    def transcribe(self, audio: bytes, sample_rate: int) -> str:
        """The words Vosk heard in ``audio`` (Chinese words come space-separated)."""
        if not 8000 <= sample_rate <= 48000:
            raise InvalidInput(f"sample rate {sample_rate} Hz: send 8-48 kHz audio (16 kHz "
                               "suits the Chinese models)")
        vosk = self._engine()
        recogniser = vosk.KaldiRecognizer(self._model, float(sample_rate))
        recogniser.AcceptWaveform(audio)
        text: str = json.loads(recogniser.FinalResult()).get("text", "")
        return text
