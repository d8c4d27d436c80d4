"""Piper's own voice, measured once at build time and shipped with the package.

Every transform is relative to the voice Piper speaks in (its pitch, formants and
pace), and that voice never changes for a given model file. So it is measured here,
ahead of time, and written to `utter/engines/piper_profile.json` (package data), keyed
by the model file's SHA-256; a running engine loads it instead of synthesising and
analysing a calibration passage in every process:

    python -m utter.engines.calibrate

Run it again after changing the analysis (`adapt.PROFILE_VERSION`) or the default
voice package; tests/engines/test_calibrate.py fails while the shipped file is stale.
An engine given another model file measures that one at run time (`LocalEngine`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from utter.engines.adapt import (
    PROFILE_VERSION,
    SOURCE_F0_CEIL,
    SOURCE_F0_FLOOR,
    SpeakerProfile,
    analyse_speaker,
    read_profile_record,
)

if TYPE_CHECKING:
    from utter.engines.piper_voice import PiperSpeaker

log = logging.getLogger(__name__)

SHIPPED = Path(__file__).with_name("piper_profile.json")

# The passage Piper's voice is measured on: everyday English with every vowel.
CALIBRATION_TEXT = (
    "It was a bright cold day in April, and the clocks were striking thirteen. "
    "The quick brown fox jumps over the lazy dog. How much wood would a woodchuck "
    "chuck if a woodchuck could chuck wood? She sells sea shells by the sea shore, "
    "and the shells she sells are surely sea shells."
)
# Piper samples its voice with noise, so one reading differs from the next; the profile
# is the mean over several readings.
CALIBRATION_DRAWS = 4


def model_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def measure_piper(piper: PiperSpeaker, draws: int = CALIBRATION_DRAWS) -> SpeakerProfile:
    """Piper's voice as the engine's analysis reads it, averaged over `draws` readings."""
    from utter.engines.piper_voice import PiperStyle

    profiles = [
        analyse_speaker(
            # At the model's own pace: `adapt.pace_for` scales from it.
            piper.speak(CALIBRATION_TEXT, "en-us", PiperStyle(length_scale=1.0)),
            piper.sample_rate,
            CALIBRATION_TEXT,
            f0_floor=SOURCE_F0_FLOOR,
            f0_ceil=SOURCE_F0_CEIL,
        )
        for _ in range(draws)
    ]
    rates = [p.letters_per_second for p in profiles if p.letters_per_second is not None]
    return SpeakerProfile(
        f0_log_mean=float(np.mean([p.f0_log_mean for p in profiles])),
        f0_log_std=float(np.mean([p.f0_log_std for p in profiles])),
        envelope_db=np.mean([p.envelope_db for p in profiles], axis=0),
        aperiodicity_db=float(np.mean([p.aperiodicity_db for p in profiles])),
        letters_per_second=float(np.mean(rates)) if rates else None,
    )


def shipped_profile(model: Path, path: Path = SHIPPED) -> SpeakerProfile | None:
    """The shipped profile when it was measured on this very model file by the current
    analysis; None otherwise (then the caller measures the model itself)."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("no readable Piper profile at %s", path)
        return None
    if data.get("model_sha256") != model_checksum(model):
        return None
    current, profile = read_profile_record(data.get("record"))
    return profile if current else None


def write_profile(piper: PiperSpeaker, model: Path, path: Path = SHIPPED) -> dict[str, Any]:
    profile = measure_piper(piper)
    data = {
        "about": "Piper's own voice as utter.engines.adapt reads it; written by "
        "`python -m utter.engines.calibrate`.",
        "model": model.name,
        "model_sha256": model_checksum(model),
        "draws": CALIBRATION_DRAWS,
        "record": {"version": PROFILE_VERSION, "profile": profile.to_json()},
    }
    path.write_text(json.dumps(data, indent=1) + "\n")
    return data


def main() -> None:
    from utter.engines.piper_voice import PiperSpeaker, default_model_path

    model = default_model_path()
    piper = PiperSpeaker(model)
    data = write_profile(piper, model)
    profile = data["record"]["profile"]
    print(
        f"wrote {SHIPPED}: median f0 {np.exp(profile['f0_log_mean']):.1f} Hz, "
        f"{profile['letters_per_second']:.2f} letters/s ({data['model']})"
    )
    piper.close()


if __name__ == "__main__":
    main()
