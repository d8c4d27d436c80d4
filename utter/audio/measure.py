"""The reference report: how good a recording is as a voice to clone, in numbers and advice.

Bad references (long pauses, clipping, a distant microphone, a noisy room) are the
main cause of bad clones, so the report names each problem in a sentence the user
can act on. Measures:

- speech_ratio: share of 30 ms frames WebRTC's voice-activity detector calls speech
  (at 16 kHz, aggressiveness 2). Steady loud noise also counts as "speech" to it;
  snr_db catches that case.
- clipping_ratio: share of samples inside runs of CLIP_RUN or more consecutive
  samples at or above CLIP_LEVEL of full scale. A run, not single peaks: a
  normalised recording touches full scale once without being clipped.
- loudness_lufs: integrated loudness (ITU-R BS.1770, pyloudnorm); None when there is
  too little audio or no sound to measure.
- snr_db: mean power of the speech frames over the median power of the non-speech
  frames (or, when the detector found almost none — it calls loud noise speech — the
  10th percentile of all frames, which in a continuous recording is the noise floor).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import numpy.typing as npt
import soxr
from pydantic import BaseModel

with warnings.catch_warnings():
    # webrtcvad's module imports pkg_resources only for its version string.
    warnings.simplefilter("ignore")
    import webrtcvad

Samples = npt.NDArray[np.float32]

VAD_SAMPLE_RATE = 16_000
VAD_FRAME = 480  # 30 ms at 16 kHz, one of the three frame sizes WebRTC's VAD accepts
# Aggressiveness 2: mode 3 rejected most of a quiet (-45 LUFS) but clean recording as
# non-speech in our tests; modes 0-1 call more background hiss speech.
VAD_MODE = 2

CLIP_LEVEL = 0.99
CLIP_RUN = 3

# Fewer non-speech frames than this (0.3 s) give no reliable noise floor.
MIN_NOISE_FRAMES = 10
NOISE_PERCENTILE = 10.0
# 16-bit audio cannot be quieter than about -96 dBFS; flooring the noise at -90 dBFS keeps
# the SNR of a digitally silent background finite (~70-90 dB) instead of infinite.
NOISE_FLOOR_POWER = 1e-9

# Warning thresholds.
# Natural read speech is 75-95% voiced frames; below 65% the pauses dominate and the
# cloned voice learns to hesitate.
MIN_SPEECH_RATIO = 0.65
# A tenth of a percent of samples in clipped runs is already audible as crackle.
MAX_CLIPPING_RATIO = 0.001
# Speech recordings sit around -16 to -23 LUFS; under -30 the voice is far from the
# microphone and room sound and noise weigh too much.
MIN_LOUDNESS_LUFS = -30.0
# Under 20 dB the background is plainly audible behind the voice, and clones copy it.
MIN_SNR_DB = 20.0
# Clone quality rises with reference length up to about 10-30 s of speech.
SHORT_REFERENCE_SECONDS = 10.0


class ReferenceReport(BaseModel):
    """How usable a recording is as a voice reference (see docs/audio.md)."""

    duration_seconds: float
    speech_ratio: float
    clipping_ratio: float
    loudness_lufs: float | None
    snr_db: float | None
    warnings: list[str]


def speech_frames(
    samples: Samples, sample_rate: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Per 30 ms frame at 16 kHz: is it speech (WebRTC VAD), and its mean power."""
    audio = np.asarray(samples, dtype=np.float32)
    if sample_rate != VAD_SAMPLE_RATE:
        audio = soxr.resample(audio, sample_rate, VAD_SAMPLE_RATE).astype(np.float32)
    count = len(audio) // VAD_FRAME
    frames = np.clip(audio[: count * VAD_FRAME], -1.0, 1.0).reshape(count, VAD_FRAME)
    pcm = np.round(frames * 32767.0).astype("<i2")
    vad = webrtcvad.Vad(VAD_MODE)
    is_speech = np.array(
        [vad.is_speech(frame.tobytes(), VAD_SAMPLE_RATE) for frame in pcm], dtype=bool
    )
    power = np.mean(frames.astype(np.float64) ** 2, axis=1) if count else np.zeros(0)
    return is_speech, power


def clipping_ratio(samples: Samples) -> float:
    """Share of samples in runs of at least CLIP_RUN samples at |x| >= CLIP_LEVEL."""
    hot = np.abs(np.asarray(samples, dtype=np.float32)) >= CLIP_LEVEL
    if not hot.any():
        return 0.0
    # Run lengths of the True stretches, from the edges where hot switches on and off.
    edges = np.diff(np.concatenate(([0], hot.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    lengths = ends - starts
    return float(lengths[lengths >= CLIP_RUN].sum()) / float(len(samples))


def loudness_lufs(samples: Samples, sample_rate: int) -> float | None:
    # Imported here: it pulls in scipy (~75 MB), which the API process never needs; only
    # the CPU processes and workers that measure audio pay for it.
    import pyloudnorm

    meter = pyloudnorm.Meter(sample_rate)
    if len(samples) < int(meter.block_size * sample_rate):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns about samples beyond full scale
        value = float(meter.integrated_loudness(np.asarray(samples, dtype=np.float64)))
    return value if math.isfinite(value) else None


def snr_db(is_speech: npt.NDArray[np.bool_], power: npt.NDArray[np.float64]) -> float | None:
    if power.size == 0 or not is_speech.any():
        return None
    quiet = power[~is_speech]
    if quiet.size >= MIN_NOISE_FRAMES:
        noise = float(np.median(quiet))
    else:
        noise = float(np.percentile(power, NOISE_PERCENTILE))
    speech = float(power[is_speech].mean())
    return 10.0 * math.log10(max(speech, NOISE_FLOOR_POWER) / max(noise, NOISE_FLOOR_POWER))


def advice(report: ReferenceReport) -> list[str]:
    """Plain, actionable sentences for each measure outside its threshold."""
    said: list[str] = []
    if report.clipping_ratio > MAX_CLIPPING_RATIO:
        said.append("The recording clips: lower the input level and record again.")
    if report.speech_ratio < MIN_SPEECH_RATIO:
        silence = round((1.0 - report.speech_ratio) * 100)
        said.append(f"The clip is {silence}% silence: trim the pauses or record again.")
    if report.loudness_lufs is not None and report.loudness_lufs < MIN_LOUDNESS_LUFS:
        said.append(
            f"The recording is quiet ({report.loudness_lufs:.0f} LUFS): move closer to the "
            "microphone or raise the input level."
        )
    if report.snr_db is not None and report.snr_db < MIN_SNR_DB:
        said.append(
            f"There is noticeable background noise (SNR {report.snr_db:.0f} dB): record "
            "somewhere quieter."
        )
    if report.duration_seconds < SHORT_REFERENCE_SECONDS:
        said.append(
            f"Short reference ({report.duration_seconds:.0f} s): 10–30 s of clear speech "
            "clones best."
        )
    return said


def measure(samples: Samples, sample_rate: int) -> ReferenceReport:
    """Measure a (normalised) reference clip and say what, if anything, is wrong with it."""
    audio = np.asarray(samples, dtype=np.float32)
    is_speech, power = speech_frames(audio, sample_rate)
    snr = snr_db(is_speech, power)
    loudness = loudness_lufs(audio, sample_rate)
    report = ReferenceReport(
        duration_seconds=round(len(audio) / float(sample_rate), 2),
        speech_ratio=round(float(is_speech.mean()) if is_speech.size else 0.0, 3),
        clipping_ratio=round(clipping_ratio(audio), 5),
        loudness_lufs=None if loudness is None else round(loudness, 1),
        snr_db=None if snr is None else round(snr, 1),
        warnings=[],
    )
    report.warnings = advice(report)
    return report
