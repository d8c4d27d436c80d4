"""Moving Piper's voice toward another speaker with the WORLD vocoder (`pyworld`).

A speaker is summarised by a `SpeakerProfile`: the level and spread of its pitch
(mean and standard deviation of log f0 over voiced frames), the average shape of
its spectral envelope (where its formants and its brightness sit), how breathy its
voiced sounds are, and how fast it talks. A `VoiceTransform` says what to do to
Piper's output: pitch level and range, a frequency-warp factor for the envelope
(a shorter or longer vocal tract moves every formant by the same ratio), a smooth
equaliser for what the warp leaves, a spectral tilt and an aperiodicity offset.

Global statistics carry little of a speaker (an accent's vowels, a voice's quality live
in the shapes of individual sounds), so a clone also matches frames: the reference's
voiced envelopes are kept, as a codebook of CODEBOOK_SIZE centroids, and each voiced
frame of Piper's moves part of the way toward the mean of its KNN_K nearest centroids
(the k-nearest-neighbour voice-conversion idea, on WORLD envelopes). The move is
partial and capped, so Piper's phonetic content stays intelligible.

Pitch (f0) comes from Praat's autocorrelation tracker (`praat-parselmouth`), taken at
WORLD's frame times; CheapTrick, D4C and synthesis are WORLD's. Measured against
Praat's own reading at its standard settings (tests/engines/test_f0.py), on 10 ms
frames: WORLD's Harvest reads Piper's joe voice an octave high on about a quarter
of its voiced frames (joe speaks near 91 Hz; Harvest's median says ~120) and costs
about as much CPU as Piper itself; DIO + StoneMask is ten times cheaper but is off
by more than five semitones on most of joe's frames. Praat's tracker costs about
a fiftieth of Harvest's, makes no octave errors on joe, and agrees with the
reference reading on real and other synthetic speakers (Debian's Allison prompts,
flite's voices). Frames are 5 ms apart: 10 ms halves the analysis, but in the quality
test (tests/engines/test_local_quality.py) one reference's similarity gain then fell
below its bound in two of four runs. Piper's own voice is
tracked in a narrowed range (60-300 Hz), which also keeps octave-up candidates out.

A reference's profile is analysed once, when the voice is made, and stored with the
voice as JSON (`SpeakerProfile.to_json`, versioned by PROFILE_VERSION so a change of
the analysis invalidates old ones); Piper's own profile ships with the package
(`utter.engines.calibrate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from utter.engines.base import Samples

Floats = npt.NDArray[np.float64]

FRAME_PERIOD_MS = 5.0
# The pitch search range for arbitrary speakers (a deep bass to a child), and for
# Piper's voice, whose f0 (read by Praat) stays within 65-250 Hz.
ANY_F0_FLOOR, ANY_F0_CEIL = 50.0, 600.0
SOURCE_F0_FLOOR, SOURCE_F0_CEIL = 60.0, 300.0
# Bumped whenever the analysis changes, so profiles stored by an older one are redone.
PROFILE_VERSION = 3
# Output pitch never leaves the range of human voices.
OUTPUT_F0_MIN, OUTPUT_F0_MAX = 45.0, 650.0

# Envelopes are compared on a log-frequency grid covering the formants and the
# "presence" region, below both engines' Nyquist frequencies.
ENVELOPE_GRID_HZ: Floats = np.geomspace(100.0, 8000.0, 160)
# A clone's formant warp follows its pitch: an adult woman's voice sits about 10
# semitones above a man's with formants about 17% higher (the design rules' numbers),
# i.e. formants ~ f0^0.2; the range spans a bass to a child.
WARP_PER_LOG_F0 = 0.2
WARP_RANGE = (0.85, 1.25)
# Piper length scales a clone's pace may take: from brisk (~290 words/min) to slow
# (~120; the default pace, 1.4, reads ~170).
PACE_RANGE = (0.75, 2.0)
# The equaliser follows broad shapes only (half an octave) and never boosts
# or cuts more than this: it corrects timbre, it must not imprint one utterance.
EQ_SMOOTHING_OCTAVES = 0.5
EQ_LIMIT_DB = 9.0
# Only the first part of a long reference is analysed; 20 s of speech holds
# thousands of voiced frames, plenty for stable averages.
MAX_ANALYSIS_SECONDS = 20.0
# Voiced speech has aperiodicity far below 0 dB under 2 kHz; noise sits near 0 dB.
PERIODIC_BELOW_DB = -8.0
# Half a second of voicing, the least that gives a usable pitch and envelope average.
MIN_VOICED_FRAMES = 100
# Frame-level matching: the reference's voiced envelopes as a codebook of centroids
# (smoothed by keeping CODEBOOK_ORDER cosine coefficients on ENVELOPE_GRID_HZ), and each
# voiced frame of Piper's moved KNN_STRENGTH of the way toward the mean of its KNN_K
# nearest centroids, by at most KNN_LIMIT_DB.
CODEBOOK_SIZE = 128
CODEBOOK_ORDER = 40
KNN_K = 4
KNN_STRENGTH = 0.5
KNN_LIMIT_DB = 6.0
# The reference's band: grid points whose mean envelope is within this of its 1-3 kHz level.
BAND_FLOOR_DB = 30.0


@dataclass(frozen=True)
class SpeakerProfile:
    f0_log_mean: float
    f0_log_std: float
    # Mean envelope of voiced frames in dB on ENVELOPE_GRID_HZ, each frame's own
    # level removed first, so only the shape remains.
    envelope_db: Floats = field(repr=False)
    # Mean aperiodicity of voiced frames (dB, 0 = noise), 1–5 kHz: breathiness.
    aperiodicity_db: float
    # Letters of transcript per second of sound, when a transcript was given.
    letters_per_second: float | None
    # Cosine coefficients (CODEBOOK_SIZE × CODEBOOK_ORDER) of centroids of the voiced
    # frames' level-free envelopes; None for Piper's own voice.
    codebook: Floats | None = field(default=None, repr=False)

    @property
    def f0_median_hz(self) -> float:
        return float(np.exp(self.f0_log_mean))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (the envelope as a list of floats), for storing with the voice."""
        return {
            "f0_log_mean": round(self.f0_log_mean, 6),
            "f0_log_std": round(self.f0_log_std, 6),
            "envelope_db": [round(float(v), 3) for v in self.envelope_db],
            "aperiodicity_db": round(self.aperiodicity_db, 4),
            "letters_per_second": (
                None if self.letters_per_second is None else round(self.letters_per_second, 4)
            ),
            "codebook": None
            if self.codebook is None
            else [[round(float(v), 2) for v in row] for row in self.codebook],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpeakerProfile:
        """The profile `to_json` wrote; ValueError when it is not one."""
        try:
            envelope = np.asarray(data["envelope_db"], dtype=np.float64)
            rate = data.get("letters_per_second")
            book = data.get("codebook")
            codebook = None if book is None else np.asarray(book, dtype=np.float64)
            profile = cls(
                f0_log_mean=float(data["f0_log_mean"]),
                f0_log_std=float(data["f0_log_std"]),
                envelope_db=envelope,
                aperiodicity_db=float(data["aperiodicity_db"]),
                letters_per_second=None if rate is None else float(rate),
                codebook=codebook,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"Not a speaker profile: {exc}") from None
        if envelope.shape != ENVELOPE_GRID_HZ.shape or not np.all(np.isfinite(envelope)):
            raise ValueError("Not a speaker profile: the envelope has the wrong shape.")
        if codebook is not None and (
            codebook.ndim != 2
            or codebook.shape[1] != CODEBOOK_ORDER
            or not np.all(np.isfinite(codebook))
        ):
            raise ValueError("Not a speaker profile: the codebook has the wrong shape.")
        return profile


def profile_record(profile: SpeakerProfile | None) -> dict[str, Any]:
    """What is stored with a voice: the analysis version and the profile, or null when the
    reference held too little voiced speech (so that is not re-measured either)."""
    return {"version": PROFILE_VERSION, "profile": None if profile is None else profile.to_json()}


def read_profile_record(record: Mapping[str, Any] | None) -> tuple[bool, SpeakerProfile | None]:
    """(whether `record` is a current analysis, its profile). A missing, older or damaged
    record is not current: the reference is analysed again."""
    if not record or record.get("version") != PROFILE_VERSION:
        return False, None
    data = record.get("profile")
    if data is None:
        return True, None
    try:
        return True, SpeakerProfile.from_json(data)
    except ValueError:
        return False, None


@dataclass(frozen=True)
class VoiceTransform:
    f0_log_mean: float
    f0_log_std: float
    warp: float = 1.0
    eq_db: Floats | None = field(default=None, repr=False)  # on ENVELOPE_GRID_HZ
    tilt_db_per_octave: float = 0.0
    aperiodicity_db: float = 0.0
    # Frame-level matching: centroid envelopes (dB on ENVELOPE_GRID_HZ), the grid points
    # they are compared on, and how far each voiced frame moves toward its nearest ones.
    centroids_db: Floats | None = field(default=None, repr=False)
    band: npt.NDArray[np.bool_] | None = field(default=None, repr=False)
    knn_strength: float = 0.0

    def is_identity_for(self, source: SpeakerProfile) -> bool:
        return (
            abs(self.f0_log_mean - source.f0_log_mean) < 1e-3
            and abs(self.f0_log_std - source.f0_log_std) < 1e-3
            and abs(self.warp - 1.0) < 1e-3
            and (self.eq_db is None or not np.any(np.abs(self.eq_db) > 0.05))
            and abs(self.tilt_db_per_octave) < 1e-3
            and abs(self.aperiodicity_db) < 1e-3
            and (self.centroids_db is None or self.knn_strength < 1e-3)
        )


@dataclass(frozen=True)
class _World:
    f0: Floats
    sp: Floats  # power spectral envelope, frames × bins
    ap: Floats  # aperiodicity, frames × bins
    sample_rate: int


def track_f0(
    samples: Samples, sample_rate: int, f0_floor: float, f0_ceil: float
) -> tuple[Floats, Floats]:
    """f0 in Hz (0 = unvoiced) at WORLD's frame times (every FRAME_PERIOD_MS from 0, as
    Harvest and DIO return them), and those times, from Praat's autocorrelation tracker."""
    import parselmouth

    step = FRAME_PERIOD_MS / 1000.0
    times: Floats = np.arange(int(len(samples) / sample_rate / step) + 1, dtype=np.float64)
    times *= step
    f0: Floats = np.zeros(len(times))
    duration = len(samples) / sample_rate
    # Praat needs at least three periods of the floor in a window.
    if duration < 3.0 / f0_floor + step:
        return f0, times
    sound = parselmouth.Sound(np.asarray(samples, dtype=np.float64), sample_rate)
    pitch = sound.to_pitch_ac(time_step=step, pitch_floor=f0_floor, pitch_ceiling=f0_ceil)
    found = np.asarray(pitch.selected_array["frequency"], dtype=np.float64)
    if len(found) == 0:
        return f0, times
    # Praat's frames are centred from its own first time; WORLD's start at 0. Between two
    # voiced frames pitch is interpolated on the log scale, elsewhere the nearer one wins.
    pos = np.clip((times - pitch.xs()[0]) / step, 0.0, len(found) - 1.0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(found) - 1)
    w = pos - lo
    both = (found[lo] > 0) & (found[hi] > 0)
    nearest = np.where(w < 0.5, found[lo], found[hi])
    safe_lo, safe_hi = np.maximum(found[lo], 1.0), np.maximum(found[hi], 1.0)
    blended = np.exp(np.log(safe_lo) * (1.0 - w) + np.log(safe_hi) * w)
    f0 = np.where(both, blended, nearest).astype(np.float64)
    return f0, times


def _analyse_world(samples: Samples, sample_rate: int, f0_floor: float, f0_ceil: float) -> _World:
    import pyworld

    f0, times = track_f0(samples, sample_rate, f0_floor, f0_ceil)
    # WORLD's C code reads float64 only; this copy lives for one chunk.
    x = np.ascontiguousarray(samples, dtype=np.float64)
    sp = pyworld.cheaptrick(x, f0, times, sample_rate)
    ap = pyworld.d4c(x, f0, times, sample_rate)
    return _World(f0, sp, ap, sample_rate)


def _bin_freqs(bins: int, sample_rate: int) -> Floats:
    return np.linspace(0.0, sample_rate / 2.0, bins)


def _on_grid(rows_db: Floats, sample_rate: int) -> Floats:
    """Resample each row (dB over FFT bins) onto ENVELOPE_GRID_HZ."""
    freqs = _bin_freqs(rows_db.shape[1], sample_rate)
    idx = np.searchsorted(freqs, ENVELOPE_GRID_HZ).clip(1, len(freqs) - 1)
    lo = freqs[idx - 1]
    w = (ENVELOPE_GRID_HZ - lo) / (freqs[idx] - lo)
    result: Floats = rows_db[:, idx - 1] * (1.0 - w) + rows_db[:, idx] * w
    return result


def _sounding_seconds(samples: Samples, sample_rate: int) -> float:
    """Time spent making sound: 10 ms frames within 35 dB of the loudest one."""
    frame = max(1, sample_rate // 100)
    count = len(samples) // frame
    if count == 0:
        return 0.0
    frames = np.asarray(samples[: count * frame], dtype=np.float64).reshape(count, frame)
    level = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return float(np.sum(level > level.max() - 35.0)) * frame / sample_rate


def count_letters(text: str) -> int | None:
    """Letters in an alphabetic transcript; None for scripts where a letter is a syllable
    or a word (CJK), whose rate is not comparable with English letters."""
    if any(0x2E80 <= ord(ch) <= 0xD7AF or 0xF900 <= ord(ch) <= 0xFAFF for ch in text):
        return None
    return sum(ch.isalpha() for ch in text)


def _cosine_basis(order: int) -> Floats:
    """Orthonormal DCT-II rows over ENVELOPE_GRID_HZ: an envelope's first `order`
    coefficients keep its broad shape (formants, tilt) and drop the fine detail."""
    n = len(ENVELOPE_GRID_HZ)
    k = np.arange(order)[:, None]
    basis: Floats = np.sqrt(2.0 / n) * np.cos(np.pi * k * (np.arange(n)[None, :] + 0.5) / n)
    basis[0] /= np.sqrt(2.0)
    return basis


def _kmeans(points: Floats, size: int, rounds: int = 25) -> Floats:
    """Deterministic k-means: centroids start at frames evenly spread in time."""
    if len(points) <= size:
        return points.copy()
    centroids: Floats = points[np.linspace(0, len(points) - 1, size).round().astype(int)].copy()
    squared = np.sum(points**2, axis=1)[:, None]
    for _ in range(rounds):
        distance = squared - 2.0 * points @ centroids.T + np.sum(centroids**2, axis=1)[None, :]
        nearest = np.argmin(distance, axis=1)
        counts = np.bincount(nearest, minlength=size)
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, points)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


def codebook_of(envelopes_db: Floats) -> Floats:
    """Cosine coefficients of centroids of level-free envelopes on ENVELOPE_GRID_HZ."""
    coefficients = envelopes_db @ _cosine_basis(CODEBOOK_ORDER).T
    return _kmeans(coefficients, CODEBOOK_SIZE)


def reference_band(envelope_db: Floats) -> npt.NDArray[np.bool_]:
    """Grid points where the reference's channel carries its voice: its mean envelope
    within BAND_FLOOR_DB of its 1-3 kHz level (an 8 kHz recording stops near 4 kHz)."""
    core = (ENVELOPE_GRID_HZ >= 1000.0) & (ENVELOPE_GRID_HZ <= 3000.0)
    band: npt.NDArray[np.bool_] = envelope_db >= envelope_db[core].mean() - BAND_FLOOR_DB
    return band


def _profile_from_world(
    world: _World, letters: int | None, sounding_seconds: float
) -> SpeakerProfile:
    freqs = _bin_freqs(world.ap.shape[1], world.sample_rate)
    low_band = (freqs >= 100.0) & (freqs <= 2000.0)
    low_ap_db = 20.0 * np.log10(np.clip(world.ap[:, low_band], 1e-4, 1.0)).mean(axis=1)
    # A tracker can find "pitch" in noise; a frame counts as voiced only when its low
    # band is clearly periodic.
    voiced = (world.f0 > 0) & (low_ap_db < PERIODIC_BELOW_DB)
    if np.count_nonzero(voiced) < MIN_VOICED_FRAMES:
        raise ValueError("The recording has too little voiced speech to analyse.")
    log_f0 = np.log(world.f0[voiced])
    lo, hi = np.percentile(log_f0, [5, 95])
    core = log_f0[(log_f0 >= lo) & (log_f0 <= hi)]
    env = _on_grid(10.0 * np.log10(world.sp[voiced] + 1e-16), world.sample_rate)
    env -= env.mean(axis=1, keepdims=True)
    ap_db = 20.0 * np.log10(np.clip(world.ap[voiced], 1e-4, 1.0))
    band = (freqs >= 1000.0) & (freqs <= 5000.0)
    rate = letters / sounding_seconds if letters and sounding_seconds > 1.0 else None
    return SpeakerProfile(
        f0_log_mean=float(core.mean()),
        f0_log_std=float(max(core.std(), 0.02)),
        envelope_db=env.mean(axis=0),
        aperiodicity_db=float(ap_db[:, band].mean()),
        letters_per_second=rate,
        codebook=codebook_of(env),
    )


def analyse_speaker(
    samples: Samples,
    sample_rate: int,
    transcript: str = "",
    *,
    f0_floor: float = ANY_F0_FLOOR,
    f0_ceil: float = ANY_F0_CEIL,
) -> SpeakerProfile:
    """Profile a speaker from a clean recording (and its transcript, for the pace)."""
    total = len(samples)
    limit = int(MAX_ANALYSIS_SECONDS * sample_rate)
    clip = samples[:limit]
    world = _analyse_world(clip, sample_rate, f0_floor, f0_ceil)
    letters = count_letters(transcript) if transcript else None
    if letters is not None and total > limit:
        letters = round(letters * limit / total)  # pace of the analysed part, assumed even
    return _profile_from_world(world, letters, _sounding_seconds(clip, sample_rate))


def analyse_reference(samples: Samples, sample_rate: int, transcript: str) -> dict[str, Any]:
    """A reference's stored analysis (`profile_record`): what a voice keeps so that no
    worker analyses it again. A module-level function, so the API's CPU processes run it."""
    try:
        profile: SpeakerProfile | None = analyse_speaker(samples, sample_rate, transcript)
    except ValueError:
        profile = None
    return profile_record(profile)


def _smooth_log_frequency(values: Floats, octaves: float) -> Floats:
    """Gaussian smoothing along ENVELOPE_GRID_HZ, `octaves` wide (one sigma)."""
    step = np.log2(ENVELOPE_GRID_HZ[1] / ENVELOPE_GRID_HZ[0])
    sigma = octaves / step
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values, radius, mode="edge")
    smoothed: Floats = np.convolve(padded, kernel, mode="valid")
    return smoothed


def _warped(envelope_db: Floats, warp: float) -> Floats:
    """The envelope as it reads after moving every frequency up by `warp`."""
    result: Floats = np.interp(ENVELOPE_GRID_HZ / warp, ENVELOPE_GRID_HZ, envelope_db)
    return result


def warp_for_pitch(source: SpeakerProfile, target: SpeakerProfile) -> float:
    """The vocal-tract ratio a pitch difference implies: formants ~ f0^WARP_PER_LOG_F0.

    A warp fitted to the envelopes read the channel rather than the speaker: on 8 kHz
    recordings the band's cliff at 4 kHz looked like formants pushed up (≈1.3 for every
    such speaker, deep men included), and with the fit kept inside the band it went the
    wrong way for women (0.84-0.91). Across adult voices, a higher voice comes with a
    shorter vocal tract closely enough that pitch predicts the warp better than the
    envelope did (bench/quality.py: 5 of 9 clones closest to their own speaker instead
    of 4, mean gain on real speakers up); what the warp leaves is the equaliser's.
    """
    ratio = float(np.exp(WARP_PER_LOG_F0 * (target.f0_log_mean - source.f0_log_mean)))
    return float(np.clip(ratio, *WARP_RANGE))


def clone_transform(source: SpeakerProfile, target: SpeakerProfile) -> VoiceTransform:
    """What turns the source's voice into the target's, as far as these controls reach."""
    warp = warp_for_pitch(source, target)
    residual = target.envelope_db - _warped(source.envelope_db, warp)
    eq = _smooth_log_frequency(residual, EQ_SMOOTHING_OCTAVES)
    eq = np.clip(eq - eq.mean(), -EQ_LIMIT_DB, EQ_LIMIT_DB)
    centroids = None
    if target.codebook is not None and KNN_STRENGTH > 0:
        centroids = target.codebook @ _cosine_basis(target.codebook.shape[1])
    return VoiceTransform(
        f0_log_mean=target.f0_log_mean,
        f0_log_std=target.f0_log_std,
        warp=warp,
        eq_db=eq,
        aperiodicity_db=float(np.clip(target.aperiodicity_db - source.aperiodicity_db, -6, 6)),
        centroids_db=centroids,
        band=reference_band(target.envelope_db),
        knn_strength=KNN_STRENGTH,
    )


def pace_for(source: SpeakerProfile, target: SpeakerProfile) -> float:
    """Piper's length scale that matches the target's talking speed (Utter's default pace
    when either is unknown). The source's rate is measured at length scale 1.0."""
    from utter.engines.piper_voice import DEFAULT_LENGTH_SCALE

    if not source.letters_per_second or not target.letters_per_second:
        return DEFAULT_LENGTH_SCALE
    return float(np.clip(source.letters_per_second / target.letters_per_second, *PACE_RANGE))


def _warp_bins(frames: Floats, warp: float, sample_rate: int) -> Floats:
    """Move each frame's content up in frequency by `warp` (down when < 1)."""
    if abs(warp - 1.0) < 1e-4:
        return frames
    freqs = _bin_freqs(frames.shape[1], sample_rate)
    src = np.clip(freqs / warp, 0.0, freqs[-1])
    pos = src / freqs[-1] * (len(freqs) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(freqs) - 2)
    w = pos - lo
    result: Floats = frames[:, lo] * (1.0 - w) + frames[:, lo + 1] * w
    return result


def frame_matching_gain(sp: Floats, sample_rate: int, transform: VoiceTransform) -> Floats:
    """The gain (dB over FFT bins, per frame) that moves each of `sp`'s frames toward the
    mean of its KNN_K nearest centroids, compared inside the reference's band."""
    assert transform.centroids_db is not None and transform.band is not None
    band = transform.band
    basis = _cosine_basis(CODEBOOK_ORDER)
    env = _on_grid(10.0 * np.log10(sp + 1e-16), sample_rate)
    # Smoothed as the centroids are, so that detail they lack is not read as a difference;
    # levels are compared inside the band only (outside it the reference has no voice).
    env = (env - env.mean(axis=1, keepdims=True)) @ basis.T @ basis
    own = env[:, band] - env[:, band].mean(axis=1, keepdims=True)
    book = transform.centroids_db[:, band]
    book = book - book.mean(axis=1, keepdims=True)
    distance = (
        np.sum(own**2, axis=1)[:, None] - 2.0 * own @ book.T + np.sum(book**2, axis=1)[None, :]
    )
    k = min(KNN_K, len(book))
    nearest = np.argpartition(distance, k - 1, axis=1)[:, :k]
    goal = book[nearest].mean(axis=1)
    delta_band = np.clip(transform.knn_strength * (goal - own), -KNN_LIMIT_DB, KNN_LIMIT_DB)
    delta = np.zeros((len(sp), len(ENVELOPE_GRID_HZ)))
    delta[:, band] = delta_band
    freqs = _bin_freqs(sp.shape[1], sample_rate)
    idx = np.searchsorted(ENVELOPE_GRID_HZ, freqs).clip(1, len(ENVELOPE_GRID_HZ) - 1)
    lo = ENVELOPE_GRID_HZ[idx - 1]
    w = np.clip((freqs - lo) / (ENVELOPE_GRID_HZ[idx] - lo), 0.0, 1.0)
    gain: Floats = delta[:, idx - 1] * (1.0 - w) + delta[:, idx] * w
    return gain


def apply_transform(
    samples: Samples, sample_rate: int, source: SpeakerProfile, transform: VoiceTransform
) -> Samples:
    """Resynthesise Piper's `samples` with the transform's pitch and timbre."""
    import pyworld

    if len(samples) < sample_rate // 10 or transform.is_identity_for(source):
        return samples
    world = _analyse_world(samples, sample_rate, SOURCE_F0_FLOOR, SOURCE_F0_CEIL)
    f0 = world.f0.copy()
    voiced = f0 > 0
    ratio = transform.f0_log_std / source.f0_log_std
    f0[voiced] = np.exp(
        transform.f0_log_mean + (np.log(f0[voiced]) - source.f0_log_mean) * ratio
    ).clip(OUTPUT_F0_MIN, OUTPUT_F0_MAX)

    sp = _warp_bins(world.sp, transform.warp, sample_rate)
    ap = _warp_bins(world.ap, transform.warp, sample_rate)
    freqs = _bin_freqs(sp.shape[1], sample_rate)
    gain_db = np.zeros_like(freqs)
    if transform.eq_db is not None:
        gain_db += np.interp(freqs, ENVELOPE_GRID_HZ, transform.eq_db)
    if transform.tilt_db_per_octave:
        gain_db += transform.tilt_db_per_octave * np.log2(np.maximum(freqs, 100.0) / 1000.0)
    sp = sp * 10.0 ** (gain_db / 10.0)
    if transform.centroids_db is not None and transform.knn_strength > 0 and np.any(voiced):
        sp[voiced] *= 10.0 ** (frame_matching_gain(sp[voiced], sample_rate, transform) / 10.0)
    if transform.aperiodicity_db:
        ap = ap.copy()
        ap[voiced] = np.clip(ap[voiced] * 10.0 ** (transform.aperiodicity_db / 20.0), 1e-4, 1.0)

    out = pyworld.synthesize(
        f0, np.ascontiguousarray(sp), np.ascontiguousarray(ap), sample_rate, FRAME_PERIOD_MS
    )
    result: Samples = np.zeros(len(samples), np.float32)
    n = min(len(out), len(samples))
    result[:n] = out[:n]
    return result
