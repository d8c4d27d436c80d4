"""Reading a voice description into the local engine's controls (keyword rules)."""

from __future__ import annotations

import math

import pytest

from utter.engines.adapt import SpeakerProfile
from utter.engines.design_mapping import (
    SEMITONES_RANGE,
    WARP_RANGE,
    DesignControls,
    parse_description,
)
from utter.engines.piper_voice import DEFAULT_LENGTH_SCALE


def test_an_empty_or_unknown_description_leaves_the_base_voice() -> None:
    assert parse_description("") == DesignControls()
    assert parse_description("a voice for the quarterly report") == DesignControls()


def test_gender_and_age_set_pitch_and_vocal_tract() -> None:
    woman = parse_description("a woman")
    man = parse_description("a man")
    child = parse_description("a child")
    elderly = parse_description("an elderly man")
    assert woman.semitones == pytest.approx(10.0) and woman.warp > 1.1
    assert man.semitones == 0.0 and man.warp == 1.0
    assert child.semitones > 5 and child.warp > 1.1
    assert elderly.pace > 1.0 and elderly.breathiness_db > 0 and elderly.pitch_range < 1.0


def test_the_briefs_examples() -> None:
    deep_old = parse_description("a deep, slow, elderly male voice")
    assert deep_old.matched == ("elderly", "deep", "slow", "male")
    assert deep_old.semitones < -4 and deep_old.warp < 1.0 and deep_old.pace > 1.3

    bright_young = parse_description("bright fast young woman")
    assert bright_young.matched == ("female", "young", "fast", "bright")
    assert bright_young.semitones > 10 and bright_young.warp > 1.17
    assert bright_young.pace < 0.8 and bright_young.tilt_db_per_octave > 0


def test_pace_energy_and_timbre_words() -> None:
    assert parse_description("slow").pace > 1.0 > parse_description("fast").pace
    loud, soft = parse_description("loud"), parse_description("soft")
    assert loud.gain_db > 0 > soft.gain_db
    assert loud.pitch_range > 1.0 > soft.pitch_range
    assert parse_description("monotone").pitch_range == pytest.approx(0.5)
    assert parse_description("bright").tilt_db_per_octave > 0
    assert parse_description("warm").tilt_db_per_octave < 0
    assert parse_description("breathy").breathiness_db > 0


def test_modifiers_strengthen_weaken_and_negate() -> None:
    deep = parse_description("deep").semitones
    assert parse_description("very deep").semitones == pytest.approx(1.5 * deep)
    assert parse_description("slightly deep").semitones == pytest.approx(0.5 * deep)
    assert parse_description("a bit deep").semitones == pytest.approx(0.5 * deep)
    assert parse_description("not deep").semitones == 0.0
    # A modifier reaches only its own keyword.
    both = parse_description("very deep and slow")
    assert both.semitones == pytest.approx(1.5 * deep)
    assert both.pace == pytest.approx(parse_description("slow").pace)


def test_a_little_is_a_modifier_unless_it_describes_a_child() -> None:
    assert "child" in parse_description("a little girl").matched
    assert "child" in parse_description("little boy").matched
    slower = parse_description("a little slower")
    assert slower.matched == ("slow",)
    assert slower.pace == pytest.approx(math.sqrt(parse_description("slower").pace))


def test_hyphenated_and_repeated_words() -> None:
    assert parse_description("high-pitched").semitones > 0
    assert parse_description("low-pitched").semitones < 0
    assert parse_description("middle-aged").matched == ("middle-aged",)
    # A rule fires once however often its words appear.
    assert parse_description("deep deep deep bass").semitones == parse_description("deep").semitones


def test_extremes_are_clamped_to_a_human_voice() -> None:
    tiny = parse_description("a very high-pitched little girl, very young, super squeaky")
    assert tiny.semitones == SEMITONES_RANGE[1]
    assert tiny.warp == WARP_RANGE[1]
    huge = parse_description("very deep very low bass baritone, extremely old")
    assert SEMITONES_RANGE[0] <= huge.semitones < 0
    assert WARP_RANGE[0] <= huge.warp < 1


def test_controls_become_a_transform_relative_to_the_base_voice() -> None:
    import numpy as np

    source = SpeakerProfile(
        f0_log_mean=math.log(120.0),
        f0_log_std=0.2,
        envelope_db=np.zeros(160),
        aperiodicity_db=-12.0,
        letters_per_second=14.0,
    )
    controls = parse_description("a slow, breathy woman")
    transform = controls.transform(source)
    # Ten semitones above 120 Hz is about 214 Hz.
    assert math.exp(transform.f0_log_mean) == pytest.approx(120.0 * 2 ** (10 / 12), rel=1e-6)
    assert transform.warp == pytest.approx(1.17)
    assert transform.aperiodicity_db == pytest.approx(6.0)
    assert controls.style().length_scale == pytest.approx(1.22 * DEFAULT_LENGTH_SCALE)
