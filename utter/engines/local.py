"""The `local` engine: offline, on CPUs, with weights that come in pip packages.

Pipeline for one text: split it into chunks at sentence ends; for each chunk,
Piper's neural English voice speaks it (other languages through espeak-ng's
phonemes, see `piper_voice`), WORLD moves the voice's pitch and timbre toward the
reference speaker or the designed voice (`adapt`), and the chunk is resampled to
24 kHz and brought to one level on its own (so each piece handed over while the
rest is made sounds as it will in the final clip); the chunks are joined with short
crossfades.

This engine is for running anywhere without a GPU or a network: its speech is
clear but its speaker similarity is limited to what pitch, formants and timbre
can carry. The quality engine is Qwen3-TTS (`qwen` or `modal`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from utter.engines.adapt import (
    SpeakerProfile,
    VoiceTransform,
    analyse_reference,
    apply_transform,
    clone_transform,
    pace_for,
    read_profile_record,
)
from utter.engines.base import (
    Audio,
    Capabilities,
    JobControl,
    Reference,
    Samples,
    UnsupportedLanguage,
)
from utter.engines.calibrate import measure_piper, shipped_profile
from utter.engines.design_mapping import parse_description
from utter.engines.join import synthesize_chunks
from utter.engines.piper_voice import (
    DEFAULT_LENGTH_SCALE,
    SENTENCE_PAUSE_SECONDS,
    PiperSpeaker,
    PiperStyle,
    default_model_path,
)
from utter.engines.text import chunk_text
from utter.errors import Invalid
from utter.languages import AUTO

log = logging.getLogger(__name__)

NAME = "local"
SAMPLE_RATE = 24_000

# API language → the espeak-ng voice that phonemises it. Offered: languages espeak-ng
# reads from their own script, without lexical tone, where at most 6% of the sounds
# in a sample passage have no close English counterpart (`piper_voice.lossy_share`;
# tests/engines/test_local_engine.py checks it) and no phonemic contrast English lacks
# is lost wholesale. Not offered: French (14% lossy: nasal and front rounded vowels),
# Chinese (tones; Piper's own Chinese phonemiser downloads a model at run time),
# Japanese (espeak-ng reads kanji as "Chinese letter"), Korean (8%), Arabic and Hindi
# (pharyngeal, emphatic, aspirated and retroflex consonants merge with plain ones).
ESPEAK_VOICES: dict[str, str] = {
    "English": "en-us",
    "German": "de",
    "Spanish": "es",
    "Italian": "it",
    "Portuguese": "pt",
    "Russian": "ru",
    "Dutch": "nl",
    "Turkish": "tr",
}
# "Auto" speaks English (the voice is English), or Russian when the text is written
# mostly in Cyrillic: the one offered language a script alone gives away.
AUTO_LANGUAGE = "English"


def auto_language(text: str) -> str:
    letters = [ch for ch in text if ch.isalpha()]
    cyrillic = sum("\u0400" <= ch <= "\u04ff" for ch in letters)
    return "Russian" if letters and cyrillic > len(letters) / 2 else AUTO_LANGUAGE


# ~25 s of speech per chunk: short enough that cancelling stops within seconds.
MAX_CHUNK_CHARS = 400

# Output level: speech RMS (over sounding frames) at -20 dBFS, peaks below -0.5 dBFS.
TARGET_SPEECH_DBFS = -20.0
PEAK_LIMIT = 0.944


def normalize_level(samples: Samples, sample_rate: int, gain_db: float = 0.0) -> Samples:
    """Bring speech to TARGET_SPEECH_DBFS (+ gain), never letting peaks pass PEAK_LIMIT."""
    if len(samples) == 0:
        return samples
    frame = max(1, sample_rate // 100)
    count = len(samples) // frame
    frames = samples[: count * frame].astype(np.float64).reshape(max(count, 1), -1)
    power = np.mean(frames**2, axis=1)
    if not np.any(power > 0):
        return samples
    level_db = 10.0 * np.log10(power + 1e-12)
    sounding = power[level_db > level_db.max() - 35.0]
    rms_db = 10.0 * np.log10(float(np.mean(sounding)) + 1e-12)
    gain = 10.0 ** ((TARGET_SPEECH_DBFS + gain_db - rms_db) / 20.0)
    peak = float(np.max(np.abs(samples))) * gain
    if peak > PEAK_LIMIT:
        gain *= PEAK_LIMIT / peak
    scaled: Samples = (samples * gain).astype(np.float32)
    return scaled


def chunk_pause_seconds(style: PiperStyle) -> float:
    """The silence between two chunks: Piper's pause between sentences at this pace."""
    return SENTENCE_PAUSE_SECONDS * style.length_scale


def _identity(source: SpeakerProfile) -> VoiceTransform:
    return VoiceTransform(f0_log_mean=source.f0_log_mean, f0_log_std=source.f0_log_std)


class LocalEngine:
    """Piper + WORLD. Models load on first use; one call at a time is the intended use,
    but concurrent calls are safe (loading is locked, and calls share no arrays).

    Nothing is analysed per process: Piper's own profile ships with the package
    (`calibrate`), and a reference's profile comes stored with its voice
    (`Reference.speaker_profile`, made by `adapt.analyse_reference` when the voice was
    saved). Only a reference without a current stored profile is analysed, and the
    worker stores the result (`speaker_record`)."""

    def __init__(
        self, *, max_chunk_chars: int = MAX_CHUNK_CHARS, model_path: Path | None = None
    ) -> None:
        self._max_chunk_chars = max_chunk_chars
        self._model_path = model_path
        self.piper = PiperSpeaker(model_path)
        self._lock = threading.Lock()
        self._source: SpeakerProfile | None = None

    def capabilities(self) -> Capabilities:
        return Capabilities(
            name=NAME,
            languages=(AUTO, *ESPEAK_VOICES),
            clone=True,
            design=True,
            max_chunk_chars=self._max_chunk_chars,
            sample_rate=SAMPLE_RATE,
        )

    def espeak_voice(self, language: str, text: str = "") -> str:
        """The espeak-ng voice for an API language name (Auto: chosen from the text);
        UnsupportedLanguage otherwise."""
        voice = ESPEAK_VOICES.get(auto_language(text) if language == AUTO else language)
        if voice is None:
            raise UnsupportedLanguage(language, NAME)
        return voice

    def source_profile(self) -> SpeakerProfile:
        """Piper's own voice: the shipped profile for the model file it was measured on,
        or, for any other model file, measured here once per engine."""
        with self._lock:
            if self._source is None:
                model = self._model_path or default_model_path()
                self._source = shipped_profile(model)
                if self._source is None:
                    log.info("measuring Piper voice %s (no shipped profile for it)", model.name)
                    self._source = measure_piper(self.piper)
            return self._source

    def speaker_record(self, reference: Reference) -> dict[str, Any] | None:
        """A fresh analysis to store with the voice when the reference carries no current
        one (a voice made before profiles were stored, or by an older analysis); None
        when its stored profile is current."""
        current, _ = read_profile_record(reference.speaker_profile)
        if current:
            return None
        return analyse_reference(
            reference.audio.samples, reference.audio.sample_rate, reference.transcript
        )

    def speaker_profile(self, reference: Reference) -> SpeakerProfile | None:
        """The reference speaker's profile: the stored one, or analysed now when it has
        none; None when the clip holds too little voiced speech to measure (then the
        engine speaks in Piper's own voice rather than guess)."""
        record: Mapping[str, Any] | None = reference.speaker_profile
        current, profile = read_profile_record(record)
        if not current:
            current, profile = read_profile_record(self.speaker_record(reference))
        if profile is None:
            log.warning("voice %s: too little voiced speech to adapt to", reference.voice_id)
        return profile

    def generate(
        self, text: str, language: str, reference: Reference, control: JobControl
    ) -> Audio:
        voice = self.espeak_voice(language, text)
        source = self.source_profile()
        target = self.speaker_profile(reference)
        if target is None:
            style = PiperStyle(length_scale=DEFAULT_LENGTH_SCALE)
            return self._render(text, voice, style, _identity(source), 0.0, control)
        style = PiperStyle(length_scale=pace_for(source, target))
        return self._render(text, voice, style, clone_transform(source, target), 0.0, control)

    def design(self, text: str, language: str, instruct: str, control: JobControl) -> Audio:
        voice = self.espeak_voice(language, text)
        controls = parse_description(instruct)
        transform = controls.transform(self.source_profile())
        return self._render(text, voice, controls.style(), transform, controls.gain_db, control)

    def plain(self, text: str, language: str, control: JobControl | None = None) -> Audio:
        """Piper's own voice, unadapted: the baseline for benchmarks and quality tests."""
        voice = self.espeak_voice(language, text)
        identity = _identity(self.source_profile())
        style = PiperStyle(length_scale=DEFAULT_LENGTH_SCALE)
        return self._render(text, voice, style, identity, 0.0, control or JobControl())

    def _render(
        self,
        text: str,
        voice: str,
        style: PiperStyle,
        transform: VoiceTransform,
        gain_db: float,
        control: JobControl,
    ) -> Audio:
        chunks = chunk_text(text, self._max_chunk_chars)
        if not chunks:
            raise Invalid("There is no text to speak.")
        source = self.source_profile()
        rate = self.piper.sample_rate

        def speak(chunk: str) -> Samples:
            raw = self.piper.speak(chunk, voice, style)
            adapted = apply_transform(raw, rate, source, transform)
            resampled: Samples = soxr.resample(adapted, rate, SAMPLE_RATE).astype(np.float32)
            return resampled

        def level(samples: Samples) -> Samples:
            # Per chunk, not over the joined clip: a published piece must not change
            # level once the rest exists. Chunks are whole sentences, long enough for a
            # stable speech level.
            return normalize_level(samples, SAMPLE_RATE, gain_db)

        # Chunks end at sentence ends: the pause between two chunks is the one between two
        # sentences of a chunk, stretched with the pace the same way.
        pause = chunk_pause_seconds(style)
        return synthesize_chunks(chunks, speak, SAMPLE_RATE, control, finish=level, pause=pause)

    def close(self) -> None:
        with self._lock:
            self._source = None
        self.piper.close()
