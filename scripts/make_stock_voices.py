"""Make the built-in voices behind OpenAI's stock voice names (utter/engines/stock_voices/).

Offline: each voice is Piper's one shipped speaker reading its own sentences, then
resynthesised with WORLD (pyworld) at its own pitch level and range, vocal-tract length
(a frequency warp of the spectral envelope), spectral tilt, breathiness and pace, so the
eleven voices are clearly different speakers to a cloning engine. Each clip is about
6-10 seconds, written as 16 kHz FLAC (small enough to ship in the package) next to
voices.json, which holds each clip's transcript.

    python scripts/make_stock_voices.py            # rewrites utter/engines/stock_voices/
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

from utter.engines.local import LocalEngine
from utter.engines.piper_voice import PiperStyle

OUT = Path(__file__).resolve().parent.parent / "utter" / "engines" / "stock_voices"
STORED_RATE = 16_000
MAX_SECONDS = 10.0

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class StockVoice:
    name: str
    pace: float  # Piper length scale (> 1 slower)
    f0_ratio: float  # mean pitch relative to Piper's
    intonation: float  # spread of log f0 around its mean
    tract: float  # > 1: shorter vocal tract (formants up), < 1: longer
    tilt_db_per_octave: float
    breath_db: float
    text: str


VOICES = (
    StockVoice(
        "alloy",
        1.0,
        1.45,
        1.0,
        1.08,
        0.0,
        0.0,
        "The quiet harbour woke slowly as the fishing boats came home. "
        "Gulls circled above the nets while the market opened its doors.",
    ),
    StockVoice(
        "ash",
        1.05,
        0.9,
        0.9,
        0.97,
        -1.0,
        0.0,
        "Every morning I walk the same path along the river to the old mill. "
        "It takes twenty minutes, and I never get tired of it.",
    ),
    StockVoice(
        "ballad",
        1.15,
        1.1,
        1.3,
        1.0,
        -2.0,
        3.0,
        "Once upon a time, a lantern maker lived at the edge of a sleepy town. "
        "His lights kept the travellers safe on the darkest nights.",
    ),
    StockVoice(
        "coral",
        1.0,
        1.9,
        1.1,
        1.16,
        1.0,
        2.0,
        "Welcome back! I saved you a seat by the window, and the tea is still warm. "
        "Tell me everything about your trip.",
    ),
    StockVoice(
        "echo",
        0.95,
        1.0,
        0.8,
        1.02,
        0.0,
        0.0,
        "The report is ready for review. Please check the numbers in the second table "
        "before the meeting on Thursday afternoon.",
    ),
    StockVoice(
        "fable",
        1.05,
        1.25,
        1.4,
        1.05,
        2.0,
        0.0,
        "The clock in the tower struck thirteen, and the whole village stopped to listen. "
        "Nobody could remember that ever happening before.",
    ),
    StockVoice(
        "nova",
        0.92,
        2.05,
        1.2,
        1.2,
        2.0,
        0.0,
        "Good news, everyone: the new park opens this weekend. "
        "There will be music, games and food for the whole family.",
    ),
    StockVoice(
        "onyx",
        1.1,
        0.7,
        0.8,
        0.88,
        -3.0,
        0.0,
        "Deep in the mountains, the old road winds between the pines. "
        "Few people travel it now, but it still leads home.",
    ),
    StockVoice(
        "sage",
        1.12,
        1.7,
        0.8,
        1.12,
        -1.0,
        4.0,
        "Take a slow breath in, and let it out gently. "
        "Notice the weight of your hands, and let your shoulders soften.",
    ),
    StockVoice(
        "shimmer",
        0.95,
        2.3,
        1.25,
        1.24,
        3.0,
        2.0,
        "The stars came out one by one over the silver lake. "
        "A soft wind carried the smell of summer flowers across the water.",
    ),
    StockVoice(
        "verse",
        0.9,
        1.15,
        1.5,
        0.95,
        1.0,
        0.0,
        "Listen closely, because this part matters: the bridge closes at nine, "
        "so we leave at eight sharp, no matter what.",
    ),
)


def resynthesise(samples: npt.NDArray[np.float32], rate: int, voice: StockVoice) -> Floats:
    """`samples` spoken by `voice`'s speaker: WORLD analysis, a new f0 contour and a warped
    envelope, then synthesis."""
    import pyworld

    x = samples.astype(np.float64)
    f0, times = pyworld.harvest(x, rate, f0_floor=60.0, f0_ceil=400.0, frame_period=5.0)
    envelope = pyworld.cheaptrick(x, f0, times, rate)
    aperiodicity = pyworld.d4c(x, f0, times, rate)
    voiced = f0 > 0
    log_f0 = np.log(f0[voiced])
    mean = log_f0.mean()
    f0[voiced] = np.exp(mean + np.log(voice.f0_ratio) + (log_f0 - mean) * voice.intonation)
    freqs = np.linspace(0, rate / 2, envelope.shape[1])
    # A shorter tract puts every formant higher: output frequency f reads the source at f/k.
    source = np.clip(freqs / voice.tract, 0, rate / 2)
    envelope = np.stack([np.interp(source, freqs, row) for row in envelope])
    aperiodicity = np.stack([np.interp(source, freqs, row) for row in aperiodicity])
    octaves = np.log2(np.maximum(freqs, 100.0) / 1000.0)
    envelope *= 10 ** (voice.tilt_db_per_octave * octaves / 10)
    aperiodicity[voiced] = np.clip(aperiodicity[voiced] * 10 ** (voice.breath_db / 20), 0, 1)
    y: Floats = pyworld.synthesize(f0, envelope, aperiodicity, rate, 5.0)
    return y


def main() -> None:
    piper = LocalEngine().piper
    OUT.mkdir(parents=True, exist_ok=True)
    index: dict[str, dict[str, object]] = {}
    for voice in VOICES:
        base = piper.speak(voice.text, "en-us", PiperStyle(length_scale=voice.pace))
        y = resynthesise(base, piper.sample_rate, voice)
        y = soxr.resample(y, piper.sample_rate, STORED_RATE)
        y = 0.7 * y / np.max(np.abs(y))
        seconds = len(y) / STORED_RATE
        if not 5.0 <= seconds <= MAX_SECONDS:
            raise SystemExit(f"{voice.name}: {seconds:.1f} s; change its text")
        sf.write(OUT / f"{voice.name}.flac", y.astype(np.float32), STORED_RATE, "PCM_16")
        index[voice.name] = {"file": f"{voice.name}.flac", "transcript": voice.text}
        print(f"{voice.name:8s} {seconds:4.1f} s  f0 x{voice.f0_ratio}  tract x{voice.tract}")
    (OUT / "voices.json").write_text(json.dumps(index, indent=2) + "\n")
    total = sum(p.stat().st_size for p in OUT.glob("*.flac"))
    print(f"{len(VOICES)} voices, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
