"""The reference report flags what ruins clones, and stays quiet about a good recording."""

from __future__ import annotations

import pytest

from tests.support.audio import (
    SENTENCES,
    Clip,
    clipped,
    encode,
    mostly_silent,
    noisy,
    quiet,
    speech,
)
from utter.audio import ReferenceLimits, ReferenceReport, measure, prepare_reference
from utter.audio.measure import (
    MAX_CLIPPING_RATIO,
    MIN_LOUDNESS_LUFS,
    MIN_SNR_DB,
    MIN_SPEECH_RATIO,
    clipping_ratio,
)

LIMITS = ReferenceLimits()


def report_for(clip: Clip, fmt: str = "wav") -> ReferenceReport:
    return prepare_reference(encode(clip, fmt), LIMITS).report


def test_a_clean_recording_gets_no_warnings(clean: Clip) -> None:
    report = report_for(clean, "m4a")
    assert report.warnings == []
    assert report.speech_ratio > 0.8
    assert report.clipping_ratio == 0.0
    assert report.loudness_lufs is not None and -24 < report.loudness_lufs < -18
    assert report.snr_db is not None and report.snr_db > 40


def test_the_report_serialises_to_the_documented_shape(clean: Clip) -> None:
    assert set(report_for(clean).model_dump(mode="json")) == {
        "duration_seconds",
        "speech_ratio",
        "clipping_ratio",
        "loudness_lufs",
        "snr_db",
        "warnings",
    }


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_clipping_is_flagged(clean: Clip, fmt: str) -> None:
    # After MP3 the flattened peaks ripple around full scale, but the runs remain.
    report = report_for(clipped(clean), fmt)
    assert report.clipping_ratio > MAX_CLIPPING_RATIO
    assert report.warnings == ["The recording clips: lower the input level and record again."]


def test_long_pauses_are_flagged() -> None:
    report = report_for(mostly_silent(gap=3.0))
    assert report.speech_ratio < MIN_SPEECH_RATIO
    silence = round((1 - report.speech_ratio) * 100)
    assert report.warnings == [f"The clip is {silence}% silence: trim the pauses or record again."]
    assert 35 <= silence <= 60


def test_a_quiet_recording_is_flagged(clean: Clip) -> None:
    report = report_for(quiet(clean, gain_db=-22))
    assert report.loudness_lufs is not None
    assert report.loudness_lufs == pytest.approx(-43, abs=2)
    assert report.loudness_lufs < MIN_LOUDNESS_LUFS
    assert report.warnings == [
        f"The recording is quiet ({report.loudness_lufs:.0f} LUFS): move closer to the "
        "microphone or raise the input level."
    ]


def test_background_noise_is_flagged_with_a_fair_estimate(clean: Clip) -> None:
    report = report_for(noisy(clean, snr_db=8), "ogg")
    assert report.snr_db is not None
    assert report.snr_db == pytest.approx(8, abs=3)
    assert report.snr_db < MIN_SNR_DB
    assert report.warnings == [
        f"There is noticeable background noise (SNR {report.snr_db:.0f} dB): record "
        "somewhere quieter."
    ]


def test_mild_noise_is_not_flagged(clean: Clip) -> None:
    report = report_for(noisy(clean, snr_db=35))
    assert report.snr_db is not None and report.snr_db > MIN_SNR_DB
    assert report.warnings == []


def test_a_short_reference_gets_advice() -> None:
    about_five_seconds = speech(" ".join(SENTENCES[1:3]))
    report = report_for(about_five_seconds)
    assert 3 < report.duration_seconds < 10
    assert report.warnings == [
        f"Short reference ({report.duration_seconds:.0f} s): 10–30 s of clear speech clones best."
    ]


def test_single_full_scale_peaks_are_not_clipping() -> None:
    import numpy as np

    samples = np.zeros(24_000, dtype=np.float32)
    samples[::1000] = 1.0  # isolated peaks, as a peak-normalised recording has
    assert clipping_ratio(samples) == 0.0
    samples[5000:5010] = 1.0  # one flat run of ten samples
    assert clipping_ratio(samples) == pytest.approx(10 / 24_000, abs=1e-6)


def test_measure_handles_audio_too_short_for_loudness() -> None:
    import numpy as np

    report = measure(np.zeros(1000, dtype=np.float32), 24_000)
    assert report.loudness_lufs is None
    assert report.snr_db is None
    assert report.speech_ratio == 0.0
