"""From a free-text voice description to the local engine's controls.

The local engine has no model that reads descriptions, so a description is read
by fixed keyword rules (English words only) and each rule nudges the same controls
cloning uses: pitch level and range, vocal-tract length (formant warp), pace,
energy, brightness and breathiness. The base voice is Piper's adult male voice;
every number is relative to it.

Rules (see docs/engines.md for the table):
- each rule fires at most once, however often its words appear;
- "very", "extremely", "really", "super" before a keyword make it 1.5× as strong;
  "slightly", "somewhat", "a bit", "a little", "mildly" make it half as strong;
  "not" or "no" before a keyword cancels it;
- effects add up (semitones, dB) or multiply (warp, pace, range), then are clamped
  to what still sounds like a voice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from utter.engines.adapt import SpeakerProfile, VoiceTransform
from utter.engines.piper_voice import DEFAULT_LENGTH_SCALE, PiperStyle

# The joe model's own sampling noise (from its config); design scales these.
BASE_NOISE_SCALE = 0.667
BASE_NOISE_W_SCALE = 0.8


@dataclass(frozen=True)
class Effect:
    semitones: float = 0.0  # pitch level
    pitch_range: float = 1.0  # × spread of pitch (intonation)
    warp: float = 1.0  # × formant frequencies (shorter vocal tract > 1)
    pace: float = 1.0  # × the default length scale (> 1 slower)
    gain_db: float = 0.0  # loudness
    tilt_db_per_octave: float = 0.0  # brightness (> 0 brighter)
    breathiness_db: float = 0.0  # aperiodicity of voiced sounds
    variation: float = 1.0  # × Piper's sampling noise (unsteadiness)

    def scaled(self, strength: float) -> Effect:
        return Effect(
            semitones=self.semitones * strength,
            pitch_range=self.pitch_range**strength,
            warp=self.warp**strength,
            pace=self.pace**strength,
            gain_db=self.gain_db * strength,
            tilt_db_per_octave=self.tilt_db_per_octave * strength,
            breathiness_db=self.breathiness_db * strength,
            variation=self.variation**strength,
        )


@dataclass(frozen=True)
class Rule:
    name: str
    words: frozenset[str]
    effect: Effect


def _rule(name: str, words: str, **effect: float) -> Rule:
    return Rule(name, frozenset(words.split()), Effect(**effect))


RULES: tuple[Rule, ...] = (
    # Who is speaking. An adult woman's voice sits about 10 semitones above a man's,
    # with formants ~17% higher (shorter vocal tract).
    _rule(
        "female",
        "woman women female feminine lady ladies girl she her mother grandmother "
        "grandma sister daughter queen actress soprano",
        semitones=10.0,
        warp=1.17,
    ),
    _rule("androgynous", "androgynous neutral nonbinary non-binary", semitones=5.0, warp=1.08),
    _rule("boy", "boy", semitones=6.0, warp=1.1),
    _rule(
        "child",
        "child children kid kids toddler childlike child-like little",
        semitones=7.0,
        warp=1.15,
        pace=1.05,
    ),
    _rule(
        "young",
        "young younger youthful teen teenage teenager adolescent girl boy",
        semitones=1.5,
        warp=1.03,
        pace=0.94,
        pitch_range=1.1,
    ),
    _rule("middle-aged", "middle-aged mature", semitones=-0.5, pitch_range=0.95),
    _rule(
        "elderly",
        "old elderly aged senior ancient older grandfather grandmother grandpa grandma",
        semitones=-1.0,
        pitch_range=0.85,
        pace=1.15,
        breathiness_db=3.0,
        tilt_db_per_octave=-1.0,
        variation=1.25,
    ),
    # Pitch.
    _rule(
        "deep", "deep deeper low lower low-pitched bass baritone booming", semitones=-4.0, warp=0.94
    ),
    _rule("high", "high higher high-pitched squeaky shrill piping", semitones=4.0, warp=1.04),
    # Pace.
    _rule("slow", "slow slower slowly measured deliberate leisurely unhurried drawling", pace=1.22),
    _rule("fast", "fast faster quick quickly rapid rapidly hurried brisk speedy", pace=0.82),
    # Energy.
    _rule(
        "energetic",
        "loud louder high-energy energetic excited enthusiastic lively animated powerful strong "
        "cheerful upbeat bubbly vibrant",
        gain_db=3.0,
        pitch_range=1.3,
        tilt_db_per_octave=1.5,
    ),
    _rule(
        "soft",
        "soft softer quiet quieter low-energy gentle calm soothing hushed tired sleepy",
        gain_db=-4.0,
        pitch_range=0.8,
        tilt_db_per_octave=-1.5,
    ),
    _rule("monotone", "monotone monotonous flat robotic", pitch_range=0.5),
    _rule(
        "expressive", "expressive dramatic melodic sing-song singsong theatrical", pitch_range=1.4
    ),
    # Timbre.
    _rule("bright", "bright brighter crisp clear sharp", tilt_db_per_octave=2.0),
    _rule("warm", "warm warmer dark darker mellow rich smooth velvety", tilt_db_per_octave=-2.0),
    _rule("breathy", "breathy airy whispery whispering husky", breathiness_db=6.0),
    _rule(
        "rough",
        "raspy hoarse gravelly rough smoky",
        breathiness_db=4.0,
        tilt_db_per_octave=-1.0,
        variation=1.2,
    ),
    _rule(
        "male", "man men male masculine gentleman guy he his father grandfather king", semitones=0.0
    ),
)

STRONGER = frozenset(["very", "extremely", "really", "super"])
WEAKER = frozenset(["slightly", "somewhat", "mildly"])
# "a bit" and "a little" soften what follows; "little" alone describes a child.
WEAKER_AFTER_A = frozenset(["bit", "little"])
# "a little girl" is a child, "a little slower" is a modifier.
CHILD_NOUNS = frozenset(["girl", "boy", "child", "kid"])
NEGATION = frozenset(["not", "no"])
# How many words back a modifier reaches ("not very deep", "a little too fast").
MODIFIER_REACH = 3

_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")

# Limits that keep the result a human voice the vocoder renders cleanly.
SEMITONES_RANGE = (-8.0, 16.0)
WARP_RANGE = (0.8, 1.3)
PACE_RANGE = (0.7, 1.5)
PITCH_RANGE_RANGE = (0.4, 1.8)
GAIN_RANGE = (-9.0, 6.0)
TILT_RANGE = (-6.0, 6.0)
BREATHINESS_RANGE = (0.0, 9.0)
VARIATION_RANGE = (0.6, 1.5)


@dataclass(frozen=True)
class DesignControls:
    semitones: float = 0.0
    pitch_range: float = 1.0
    warp: float = 1.0
    pace: float = 1.0
    gain_db: float = 0.0
    tilt_db_per_octave: float = 0.0
    breathiness_db: float = 0.0
    variation: float = 1.0
    matched: tuple[str, ...] = field(default=())

    def style(self) -> PiperStyle:
        return PiperStyle(
            length_scale=DEFAULT_LENGTH_SCALE * self.pace,
            noise_scale=BASE_NOISE_SCALE * self.variation,
            noise_w_scale=BASE_NOISE_W_SCALE * self.variation,
        )

    def transform(self, source: SpeakerProfile) -> VoiceTransform:
        return VoiceTransform(
            f0_log_mean=source.f0_log_mean + self.semitones * _LN2 / 12.0,
            f0_log_std=source.f0_log_std * self.pitch_range,
            warp=self.warp,
            tilt_db_per_octave=self.tilt_db_per_octave,
            aperiodicity_db=self.breathiness_db,
        )


_LN2 = 0.6931471805599453


def _words(description: str) -> list[str]:
    words: list[str] = []
    for token in _WORD.findall(description.lower()):
        if "-" in token and not any(token in rule.words for rule in RULES):
            words.extend(token.split("-"))
        else:
            words.append(token)
    return words


def _tag(words: list[str]) -> list[str]:
    """Replace modifier words by "+" (stronger), "-" (weaker) or "!" (negation)."""
    tagged: list[str] = []
    for index, word in enumerate(words):
        if word in STRONGER:
            tagged.append("+")
        elif word in WEAKER or (
            word in WEAKER_AFTER_A
            and index > 0
            and words[index - 1] == "a"
            and not (index + 1 < len(words) and words[index + 1] in CHILD_NOUNS)
        ):
            tagged.append("-")
        elif word in NEGATION:
            tagged.append("!")
        else:
            tagged.append(word)
    return tagged


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def parse_description(description: str) -> DesignControls:
    """Read a voice description into controls. Unknown words are ignored."""
    words = _tag(_words(description))
    strengths: dict[str, float] = {}
    for index, word in enumerate(words):
        rules = [rule for rule in RULES if word in rule.words]
        if not rules:
            continue
        before = words[max(0, index - MODIFIER_REACH) : index]
        # A modifier reaches only up to the previous keyword ("deep and slow").
        for back, previous in enumerate(reversed(before)):
            if any(previous in rule.words for rule in RULES):
                before = before[len(before) - back :]
                break
        if "!" in before:
            continue
        strength = 1.5 if "+" in before else 0.5 if "-" in before else 1.0
        for rule in rules:
            strengths[rule.name] = max(strengths.get(rule.name, 0.0), strength)

    total = Effect()
    matched: list[str] = []
    for rule in RULES:
        if rule.name not in strengths:
            continue
        matched.append(rule.name)
        e = rule.effect.scaled(strengths[rule.name])
        total = Effect(
            semitones=total.semitones + e.semitones,
            pitch_range=total.pitch_range * e.pitch_range,
            warp=total.warp * e.warp,
            pace=total.pace * e.pace,
            gain_db=total.gain_db + e.gain_db,
            tilt_db_per_octave=total.tilt_db_per_octave + e.tilt_db_per_octave,
            breathiness_db=total.breathiness_db + e.breathiness_db,
            variation=total.variation * e.variation,
        )
    return DesignControls(
        semitones=_clamp(total.semitones, SEMITONES_RANGE),
        pitch_range=_clamp(total.pitch_range, PITCH_RANGE_RANGE),
        warp=_clamp(total.warp, WARP_RANGE),
        pace=_clamp(total.pace, PACE_RANGE),
        gain_db=_clamp(total.gain_db, GAIN_RANGE),
        tilt_db_per_octave=_clamp(total.tilt_db_per_octave, TILT_RANGE),
        breathiness_db=_clamp(total.breathiness_db, BREATHINESS_RANGE),
        variation=_clamp(total.variation, VARIATION_RANGE),
        matched=tuple(matched),
    )
