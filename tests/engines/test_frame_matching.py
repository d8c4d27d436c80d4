"""Frame-level envelope matching: a reference's voiced envelopes kept as a small codebook
with its profile, and each voiced frame of Piper's moved toward its nearest centroids."""

from __future__ import annotations

import json

import numpy as np

from utter.engines import adapt
from utter.engines.adapt import (
    CODEBOOK_ORDER,
    ENVELOPE_GRID_HZ,
    KNN_LIMIT_DB,
    SpeakerProfile,
    VoiceTransform,
    codebook_of,
    frame_matching_gain,
    profile_record,
    read_profile_record,
    reference_band,
)

SAMPLE_RATE = 16_000
BINS = 513


def _formant(centre_hz: float) -> np.ndarray:
    """A level-free envelope (dB on the grid) with one broad peak."""
    octaves = np.log2(ENVELOPE_GRID_HZ / centre_hz)
    shape = 20.0 * np.exp(-0.5 * (octaves / 0.3) ** 2)
    return shape - shape.mean()


def _profile(envelopes: np.ndarray) -> SpeakerProfile:
    return SpeakerProfile(
        f0_log_mean=float(np.log(120.0)),
        f0_log_std=0.15,
        envelope_db=envelopes.mean(axis=0),
        aperiodicity_db=-20.0,
        letters_per_second=12.0,
        codebook=codebook_of(envelopes),
    )


def test_the_codebook_is_small_deterministic_and_survives_storage() -> None:
    rng = np.random.default_rng(1)
    frames = np.vstack([_formant(f) for f in rng.uniform(300.0, 3000.0, 4000)])
    profile = _profile(frames)
    assert profile.codebook is not None
    assert profile.codebook.shape == (adapt.CODEBOOK_SIZE, CODEBOOK_ORDER)
    np.testing.assert_array_equal(profile.codebook, codebook_of(frames))
    record = json.loads(json.dumps(profile_record(profile)))
    # Stored with the voice as JSON: it must stay a small record.
    assert len(json.dumps(record)) < 64_000
    current, restored = read_profile_record(record)
    assert current and restored is not None and restored.codebook is not None
    np.testing.assert_allclose(restored.codebook, profile.codebook, atol=0.005)


def test_a_frame_moves_toward_the_reference_frames_nearest_to_it() -> None:
    # The reference says two sounds: a low peak (500 Hz) and a high one (2 kHz).
    reference = np.vstack([_formant(500.0)] * 300 + [_formant(2000.0)] * 300)
    profile = _profile(reference)
    assert profile.codebook is not None
    centroids = profile.codebook @ adapt._cosine_basis(CODEBOOK_ORDER)
    transform = VoiceTransform(
        f0_log_mean=profile.f0_log_mean,
        f0_log_std=profile.f0_log_std,
        centroids_db=centroids,
        band=reference_band(profile.envelope_db),
        knn_strength=0.5,
    )
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, BINS)
    # Piper's frames: peaks a little off each of the reference's.
    piper_db = np.vstack([np.interp(freqs, ENVELOPE_GRID_HZ, _formant(f)) for f in (600.0, 1700.0)])
    gain = frame_matching_gain(10.0 ** (piper_db / 10.0), SAMPLE_RATE, transform)
    assert gain.shape == piper_db.shape
    assert np.max(np.abs(gain)) <= KNN_LIMIT_DB + 1e-9
    matched = piper_db + gain
    grid = (ENVELOPE_GRID_HZ >= 200.0) & (ENVELOPE_GRID_HZ <= 4000.0)
    for row, goal in ((0, 500.0), (1, 2000.0)):
        target = np.interp(
            ENVELOPE_GRID_HZ, freqs, np.interp(freqs, ENVELOPE_GRID_HZ, _formant(goal))
        )

        def distance(db: np.ndarray, target: np.ndarray = target) -> float:
            on_grid = np.interp(ENVELOPE_GRID_HZ, freqs, db)[grid]
            return float(
                np.sqrt(
                    np.mean(
                        ((on_grid - on_grid.mean()) - (target[grid] - target[grid].mean())) ** 2
                    )
                )
            )

        assert distance(matched[row]) < 0.8 * distance(piper_db[row]), row
