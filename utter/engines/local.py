"""The `local` engine: offline, on CPUs, with weights that come in pip packages.

Pipeline for one text: split it into chunks at sentence ends; for each chunk,
Piper's neural English voice speaks it (other languages through espeak-ng's
phonemes, see `piper_voice`), WORLD moves the voice's pitch and timbre toward the
reference speaker or the designed voice (`adapt`), and the chunk is resampled to
24 kHz; the chunks are joined with short crossfades and brought to one level.

This engine is for running anywhere without a GPU or a network: its speech is
clear but its speaker similarity is limited to what pitch, formants and timbre
can carry. The quality engine is Qwen3-TTS (`qwen` or `modal`).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import soxr

from utter.engines.adapt import (
    SOURCE_F0_CEIL,
    SOURCE_F0_FLOOR,
    SpeakerProfile,
    VoiceTransform,
    analyse_speaker,
    apply_transform,
    clone_transform,
    pace_for,
)
from utter.engines.base import (
    Audio,
    Capabilities,
    JobControl,
    Reference,
    Samples,
    UnsupportedLanguage,
)
from utter.engines.design_mapping import parse_description
from utter.engines.join import synthesize_chunks
from utter.engines.piper_voice import PiperSpeaker, PiperStyle
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
PROFILE_CACHE_SIZE = 16

# Output level: speech RMS (over sounding frames) at -20 dBFS, peaks below -0.5 dBFS.
TARGET_SPEECH_DBFS = -20.0
PEAK_LIMIT = 0.944

# Piper's voice is measured once on this passage: the reference point every
# transform is relative to (its pitch, formants and pace).
CALIBRATION_TEXT = (
    "It was a bright cold day in April, and the clocks were striking thirteen. "
    "The quick brown fox jumps over the lazy dog. How much wood would a woodchuck "
    "chuck if a woodchuck could chuck wood? She sells sea shells by the sea shore, "
    "and the shells she sells are surely sea shells."
)


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


def _identity(source: SpeakerProfile) -> VoiceTransform:
    return VoiceTransform(f0_log_mean=source.f0_log_mean, f0_log_std=source.f0_log_std)


class LocalEngine:
    """Piper + WORLD. Models load on first use; one call at a time is the intended use,
    but concurrent calls are safe (loading and the profile cache are locked)."""

    def __init__(
        self,
        *,
        max_chunk_chars: int = MAX_CHUNK_CHARS,
        profile_cache_size: int = PROFILE_CACHE_SIZE,
        model_path: Path | None = None,
    ) -> None:
        self._max_chunk_chars = max_chunk_chars
        self.piper = PiperSpeaker(model_path)
        self._lock = threading.Lock()
        self._source: SpeakerProfile | None = None
        self._profiles: OrderedDict[str, SpeakerProfile | None] = OrderedDict()
        self._profile_cache_size = profile_cache_size

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
        """Piper's own voice, measured once."""
        with self._lock:
            if self._source is None:
                samples = self.piper.speak(CALIBRATION_TEXT, "en-us", PiperStyle())
                self._source = analyse_speaker(
                    samples,
                    self.piper.sample_rate,
                    CALIBRATION_TEXT,
                    f0_floor=SOURCE_F0_FLOOR,
                    f0_ceil=SOURCE_F0_CEIL,
                )
            return self._source

    def speaker_profile(self, reference: Reference) -> SpeakerProfile | None:
        """The reference speaker's profile, analysed once per voice (small LRU cache);
        None when the clip holds too little voiced speech to measure (then the engine
        speaks in Piper's own voice rather than guess)."""
        key = f"{reference.voice_id}:{len(reference.audio.samples)}"
        with self._lock:
            if key in self._profiles:
                self._profiles.move_to_end(key)
                return self._profiles[key]
        try:
            profile: SpeakerProfile | None = analyse_speaker(
                reference.audio.samples, reference.audio.sample_rate, reference.transcript
            )
        except ValueError:
            log.warning("voice %s: too little voiced speech to adapt to", reference.voice_id)
            profile = None
        with self._lock:
            self._profiles[key] = profile
            while len(self._profiles) > self._profile_cache_size:
                self._profiles.popitem(last=False)
        return profile

    def generate(
        self, text: str, language: str, reference: Reference, control: JobControl
    ) -> Audio:
        voice = self.espeak_voice(language, text)
        source = self.source_profile()
        target = self.speaker_profile(reference)
        if target is None:
            return self._render(text, voice, PiperStyle(), _identity(source), 0.0, control)
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
        return self._render(text, voice, PiperStyle(), identity, 0.0, control or JobControl())

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

        audio = synthesize_chunks(chunks, speak, SAMPLE_RATE, control)
        return Audio(normalize_level(audio.samples, SAMPLE_RATE, gain_db), SAMPLE_RATE)

    def close(self) -> None:
        with self._lock:
            self._profiles.clear()
            self._source = None
        self.piper.close()
