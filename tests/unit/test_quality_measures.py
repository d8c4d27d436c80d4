"""The pure measures of the clone-quality harness (bench/quality.py), on signals whose
answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from bench.quality import pitch_break_rate, speech_seconds, transcript_wer, words_per_minute

RATE = 16_000


def voiced_tone(f0: float, seconds: float) -> np.ndarray:
    """A buzz with ten harmonics falling off like a voice's, so Praat tracks it as voiced."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 11))
    return (0.3 * tone / np.max(np.abs(tone))).astype(np.float32)


def test_an_octave_jump_on_a_third_of_the_frames_is_a_third_of_pitch_breaks() -> None:
    jump = np.concatenate([voiced_tone(110.0, 2.0), voiced_tone(220.0, 1.0)])
    assert pitch_break_rate(jump, RATE) == pytest.approx(1 / 3, abs=0.03)


def test_a_steady_voice_and_a_fifth_up_are_not_breaks() -> None:
    assert pitch_break_rate(voiced_tone(120.0, 2.0), RATE) == 0.0
    # 5 semitones: an ordinary rise in intonation, below the 7-semitone line.
    fourth = np.concatenate([voiced_tone(120.0, 2.0), voiced_tone(120.0 * 2 ** (5 / 12), 1.0)])
    assert pitch_break_rate(fourth, RATE) == 0.0


def test_silence_has_no_pitch_breaks() -> None:
    assert pitch_break_rate(np.zeros(RATE, dtype=np.float32), RATE) == 0.0


def test_wer_ignores_case_punctuation_and_hyphens() -> None:
    said = "The well-known baker sold bread."
    assert transcript_wer(said, "the well known Baker sold bread") == 0.0
    assert transcript_wer(said, "The well known baker sold red.") == pytest.approx(1 / 6)
    assert transcript_wer(said, "") == 1.0


def test_speaking_rate_counts_words_over_the_speech_not_the_silence_around_it() -> None:
    silence = np.zeros(RATE, dtype=np.float32)
    speech = voiced_tone(120.0, 3.0)
    padded = np.concatenate([silence, speech, silence])
    assert speech_seconds(padded, RATE) == pytest.approx(3.0, abs=0.03)
    # Ten words in three seconds of speech: 200 words a minute.
    text = "one two three four five six seven eight nine ten"
    assert words_per_minute(text, speech_seconds(padded, RATE)) == pytest.approx(200.0, rel=0.02)
    assert words_per_minute(text, 0.0) == 0.0
