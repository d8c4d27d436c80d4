"""How well the `local` engine clones, measured: speaker similarity and intelligibility.

References are made here, offline, as clearly different speakers: Piper's voice
resynthesised with WORLD (written out below with pyworld directly, not with the
engine's own adapt module) at other pitch levels and ranges, vocal-tract lengths
(uniform and uneven formant shifts), spectral tilts, breathiness and paces. The
`resemblyzer` speaker encoder (weights in its wheel) then says whether the engine's
output for each reference is closer to it than Piper's unadapted voice is, and the
offline recogniser says whether the adapted speech is still understood.

Run with `-s` to see the measured table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
import soxr

from tests.support.local_engine import reference_from, shared_local_engine
from tests.support.wer import word_error_rate
from utter.engines.base import Audio, JobControl
from utter.engines.local import LocalEngine
from utter.engines.piper_voice import DEFAULT_LENGTH_SCALE, PiperStyle
from utter.transcription.offline import transcribe_english

pytestmark = pytest.mark.slow

Floats = npt.NDArray[np.float64]

REFERENCE_TEXT = (
    "Peter picked a basket of apples from the old tree behind the house. A journey of a "
    "thousand miles begins with a single step, or so they say. Nobody expected the "
    "weather to turn so quickly that afternoon."
)
# Short common words the offline recogniser knows; not the reference's words.
TEXT = (
    "The weather is nice today, so we will walk to the park after lunch. "
    "My brother likes to read books in the garden."
)
# A second text: a speaker's embedding is taken over both clips, because one clip's
# similarity moves by up to ±0.04 with Piper's sampling noise alone.
SECOND_TEXT = "We will meet at the station at nine, and then take the train to the city."
# References are spoken without Piper's sampling noise, so each run measures the engine
# against the same three speakers (with noise, a reference's own similarities moved by 0.1).
REFERENCE_STYLE = {"noise_scale": 0.0, "noise_w_scale": 0.0}


@dataclass(frozen=True)
class Speaker:
    name: str
    pace: float  # × Piper's default length scale for the base recording (> 1 slower)
    f0_ratio: float
    intonation: float  # x spread of log f0
    warp: Callable[[Floats], Floats]  # output frequency -> source frequency
    tilt_db_per_octave: float = 0.0
    breath_db: float = 0.0


SPEAKERS = (
    Speaker("high, short tract", 1.0, 1.7, 0.8, lambda f: f / 1.18),
    Speaker("deep, long tract, slow", 1.2, 0.72, 1.0, lambda f: f / 0.92, -2.0),
    # Formants below 1.5 kHz rise 14%, higher ones 3%: not a uniform warp.
    Speaker(
        "bright, breathy, fast, uneven formants",
        0.85,
        1.25,
        1.2,
        lambda f: np.where(f < 1710.0, f / 1.14, 1500.0 + (f - 1710.0) / 1.03),
        3.0,
        6.0,
    ),
)


def world_voice(
    samples: npt.NDArray[np.float32], sr: int, speaker: Speaker
) -> npt.NDArray[np.float32]:
    import pyworld

    x = samples.astype(np.float64)
    f0, t = pyworld.harvest(x, sr, f0_floor=60.0, f0_ceil=400.0, frame_period=5.0)
    sp = pyworld.cheaptrick(x, f0, t, sr)
    ap = pyworld.d4c(x, f0, t, sr)
    voiced = f0 > 0
    log_f0 = np.log(f0[voiced])
    mean = log_f0.mean()
    f0[voiced] = np.exp(mean + np.log(speaker.f0_ratio) + (log_f0 - mean) * speaker.intonation)
    freqs = np.linspace(0, sr / 2, sp.shape[1])
    source = np.clip(speaker.warp(freqs), 0, sr / 2)
    sp = np.stack([np.interp(source, freqs, row) for row in sp])
    ap = np.stack([np.interp(source, freqs, row) for row in ap])
    sp *= 10 ** (speaker.tilt_db_per_octave * np.log2(np.maximum(freqs, 100) / 1000) / 10)
    ap[voiced] = np.clip(ap[voiced] * 10 ** (speaker.breath_db / 20), 0, 1)
    y = pyworld.synthesize(f0, sp, ap, sr, 5.0)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


@dataclass(frozen=True)
class Measured:
    references: list[Audio]
    adapted: list[Audio]
    plain: Audio
    similarity: Floats  # [output i, reference j]
    plain_similarity: Floats  # [reference j]


@pytest.fixture(scope="module")
def engine() -> LocalEngine:
    return shared_local_engine()


@pytest.fixture(scope="module")
def measured(engine: LocalEngine) -> Measured:
    from resemblyzer import VoiceEncoder, preprocess_wav

    encoder = VoiceEncoder("cpu", verbose=False)

    def embed(*clips: Audio) -> Floats:
        wavs = [
            preprocess_wav(soxr.resample(c.samples, c.sample_rate, 16_000), 16_000) for c in clips
        ]
        vector: Floats = encoder.embed_speaker(wavs)
        return vector

    piper = engine.piper
    references: list[Audio] = []
    adapted: list[Audio] = []
    adapted_vectors: list[Floats] = []
    for index, speaker in enumerate(SPEAKERS):
        pace = speaker.pace * DEFAULT_LENGTH_SCALE
        style = PiperStyle(length_scale=pace, **REFERENCE_STYLE)
        base = piper.speak(REFERENCE_TEXT, "en-us", style)
        voice = world_voice(base, piper.sample_rate, speaker)
        reference = reference_from(f"quality-{index}", voice, piper.sample_rate, REFERENCE_TEXT)
        references.append(reference.audio)
        first = engine.generate(TEXT, "English", reference, JobControl())
        second = engine.generate(SECOND_TEXT, "English", reference, JobControl())
        adapted.append(first)
        adapted_vectors.append(embed(first, second))
    plain = engine.plain(TEXT, "English")
    ref_vectors = [embed(r) for r in references]
    similarity = np.array([[a @ r for r in ref_vectors] for a in adapted_vectors])
    plain_vector = embed(plain, engine.plain(SECOND_TEXT, "English"))
    plain_similarity = np.array([plain_vector @ r for r in ref_vectors])
    print("\nresemblyzer cosine similarity to each reference")
    print(f"{'reference':42s} {'unadapted':>9s} {'local':>6s} {'local, other refs':>18s}")
    for index, speaker in enumerate(SPEAKERS):
        others = " ".join(f"{v:.3f}" for v in np.delete(similarity[index], index))
        print(
            f"{speaker.name:42s} {plain_similarity[index]:9.3f} "
            f"{similarity[index, index]:6.3f} {others:>18s}"
        )
    return Measured(references, adapted, plain, similarity, plain_similarity)


def test_output_is_closer_to_its_reference_than_the_unadapted_voice(measured: Measured) -> None:
    for index, speaker in enumerate(SPEAKERS):
        gain = measured.similarity[index, index] - measured.plain_similarity[index]
        assert gain > 0.08, (speaker.name, gain)


def test_output_is_closer_to_its_own_reference_than_to_the_others(measured: Measured) -> None:
    for index, speaker in enumerate(SPEAKERS):
        row = measured.similarity[index]
        others = np.delete(row, index)
        assert row[index] > others.max(), (speaker.name, row)


def test_adapted_speech_stays_intelligible(engine: LocalEngine, measured: Measured) -> None:
    designed = [
        engine.design(TEXT, "English", description, JobControl())
        for description in ("a deep, slow, elderly male voice", "bright fast young woman")
    ]
    plain_wer = word_error_rate(TEXT, transcribe_english(measured.plain.samples, 24_000))
    rates = [
        word_error_rate(TEXT, transcribe_english(audio.samples, audio.sample_rate))
        for audio in [*measured.adapted, *designed]
    ]
    print(f"\nWER unadapted {plain_wer:.2f}; adapted " + ", ".join(f"{r:.2f}" for r in rates))
    # pocketsphinx gets ~65-90% of words right on clean synthetic speech.
    assert plain_wer <= 0.35
    assert float(np.mean(rates)) <= 0.35
    assert max(rates) <= 0.6
