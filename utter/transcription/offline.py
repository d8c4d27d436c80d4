"""Offline English transcription with pocketsphinx and the en-us model its wheel ships.

A coarse recogniser (roughly 65-90% of words right on clean synthetic speech, half on
telephone recordings), but it runs on any machine with no downloads: the fallback of the
default `auto` provider when Whisper is not installed.
pocketsphinx holds the GIL for the whole utterance, so the API runs it (and the decode
before it) in its CPU processes (`utter.cpu`), never in its own.
"""

from __future__ import annotations

import asyncio
import threading
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

from utter.audio.convert import to_pcm16
from utter.audio.decode import decode
from utter.cpu import CpuPool
from utter.transcription.base import Transcript, UnsupportedLanguageError, language_code

SAMPLE_RATE = 16_000  # what the en-us acoustic model was trained on
MODEL_NAME = "pocketsphinx-en-us"
# pocketsphinx runs at roughly 0.2-0.3x real time on one core: five minutes of audio is
# already a minute or more of CPU.
DEFAULT_MAX_SECONDS = 300.0


class EnglishRecognizer:
    """One pocketsphinx decoder, loaded on first use; calls are serialised (it is not
    thread-safe) and block. Each clip is heard on its own: the same audio always gives
    the same words, whatever was recognised before."""

    def __init__(self) -> None:
        self._decoder: Any = None
        self._lock = threading.Lock()

    def recognise(self, samples: npt.NDArray[np.float32], sample_rate: int) -> str:
        audio = np.asarray(samples, dtype=np.float32)
        if sample_rate != SAMPLE_RATE:
            audio = soxr.resample(audio, sample_rate, SAMPLE_RATE).astype(np.float32)
        pcm = to_pcm16(audio).astype("<i2").tobytes()
        with self._lock:
            if self._decoder is None:
                from pocketsphinx import Decoder  # late: loading the model takes ~0.5 s

                self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
            decoder = self._decoder
            # The front end carries its noise and signal-level estimates from one
            # utterance to the next, so the same clip gave different words depending on
            # what came before. Rebuilding it makes every clip start as on a fresh
            # decoder, for ~0.02 ms instead of the ~0.4 s a new decoder costs.
            decoder.reinit_feat()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            hypothesis = decoder.hyp()
        return str(hypothesis.hypstr).strip() if hypothesis is not None else ""


@lru_cache(maxsize=1)
def _shared_recognizer() -> EnglishRecognizer:
    return EnglishRecognizer()


def transcribe_english(samples: npt.NDArray[np.float32], sample_rate: int) -> str:
    """Lower-case English words heard in mono float32 `samples` ("" for none). Blocking."""
    return _shared_recognizer().recognise(samples, sample_rate)


def transcribe_upload(data: bytes, max_seconds: float) -> tuple[str, float]:
    """Decode an upload and recognise it: (words, seconds of audio). Blocking, CPU-bound:
    meant for a CPU process, where the decoder is loaded once and reused."""
    decoded = decode(data, SAMPLE_RATE, max_seconds=max_seconds)
    text = transcribe_english(decoded.samples, decoded.sample_rate)
    return text, len(decoded.samples) / decoded.sample_rate


class OfflineTranscriber:
    """The zero-download transcriber: English only, on this machine.

    With a `CpuPool` the work runs in its processes (as the API does); without one, in a
    thread of this process (for callers that are CPU workers themselves)."""

    enabled = True
    provider = "offline"
    model = MODEL_NAME
    supported_languages: tuple[str, ...] = ("Auto", "English")

    def __init__(self, *, max_seconds: float = DEFAULT_MAX_SECONDS, cpu: CpuPool | None = None):
        self.max_seconds = max_seconds
        self._cpu = cpu

    async def transcribe(self, data: bytes, filename: str, language: str) -> Transcript:
        """Raises UnsupportedLanguageError for anything but English or Auto, and
        utter.audio.AudioError when the upload is not readable audio or is too long."""
        if language not in ("", "Auto") and language_code(language) != "en":
            raise UnsupportedLanguageError("Offline transcription supports English only.")
        if self._cpu is not None:
            text, seconds = await self._cpu.run(transcribe_upload, data, self.max_seconds)
        else:
            text, seconds = await asyncio.to_thread(transcribe_upload, data, self.max_seconds)
        return Transcript(text=text, model=self.model, language="en", duration_seconds=seconds)

    async def aclose(self) -> None:
        return None
