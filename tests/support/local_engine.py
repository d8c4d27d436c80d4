"""One `local` engine for the whole test run, and what its tests need to judge audio.

Loading Piper takes a second or two; every test module that uses the engine shares this
one instance.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
import soxr

from utter.engines.base import Audio, Reference
from utter.engines.local import LocalEngine

Samples = npt.NDArray[np.float32]


@lru_cache(maxsize=1)
def shared_local_engine() -> LocalEngine:
    engine = LocalEngine()
    engine.source_profile()  # load once, outside any test's own work
    return engine


def reference_from(voice_id: str, samples: Samples, sample_rate: int, transcript: str) -> Reference:
    """A reference as the worker builds it: 24 kHz mono float32 with its transcript."""
    audio = soxr.resample(samples, sample_rate, 24_000).astype(np.float32)
    return Reference(voice_id, Audio(audio, 24_000), transcript, "English")


def praat_median_f0(audio: Audio) -> float:
    """Median pitch of the voiced frames by Praat's autocorrelation tracker. Harvest reads
    Piper's voice an octave high on about a quarter of its frames, so its median of the
    plain voice wanders (100-120 Hz from one draw to the next); Praat's stays at 89-92 Hz."""
    import parselmouth

    samples = audio.samples.astype(np.float64)
    sound = parselmouth.Sound(samples, sampling_frequency=audio.sample_rate)
    pitch = sound.to_pitch_ac(time_step=0.01, pitch_floor=50.0, pitch_ceiling=600.0)
    f0 = pitch.selected_array["frequency"]
    voiced = f0[f0 > 0]
    return float(np.median(voiced)) if len(voiced) else 0.0


def speech_rms_dbfs(samples: Samples) -> float:
    return float(20.0 * np.log10(np.sqrt(np.mean(np.square(samples, dtype=np.float64))) + 1e-12))
