"""Piper's own voice profile ships with the package and cannot go stale silently."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from utter.engines import calibrate
from utter.engines.adapt import PROFILE_VERSION
from utter.engines.calibrate import SHIPPED, measure_piper, shipped_profile
from utter.engines.local import LocalEngine
from utter.engines.piper_voice import PiperSpeaker, default_model_path


def test_the_shipped_profile_is_for_the_installed_voice_and_the_current_analysis() -> None:
    data = json.loads(SHIPPED.read_text())
    assert data["record"]["version"] == PROFILE_VERSION
    assert shipped_profile(default_model_path()) is not None


def test_a_fresh_engine_loads_piper_s_profile_without_measuring_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def measure(*args: object) -> None:
        raise AssertionError("Piper's voice was measured at run time")

    monkeypatch.setattr("utter.engines.local.measure_piper", measure)
    engine = LocalEngine()
    try:
        assert 85.0 < engine.source_profile().f0_median_hz < 100.0
    finally:
        engine.close()


def test_another_model_file_is_measured_at_run_time(tmp_path: Path) -> None:
    """The shipped profile is keyed by the model's checksum: another model file (here a
    stand-in with other bytes) does not get it, so the engine measures its voice itself."""
    other = tmp_path / "other.onnx"
    other.write_bytes(b"not the joe model")
    assert shipped_profile(other) is None
    stale = tmp_path / "profile.json"
    data = json.loads(SHIPPED.read_text())
    stale.write_text(json.dumps({**data, "record": {**data["record"], "version": 1}}))
    assert shipped_profile(default_model_path(), stale) is None


@pytest.mark.slow
def test_the_shipped_profile_matches_a_fresh_measurement() -> None:
    """Recomputed as `python -m utter.engines.calibrate` would; Piper's sampling noise moves
    the average of four readings by about 0.1 semitone and 0.2 dB, far inside these bounds."""
    shipped = shipped_profile(default_model_path())
    assert shipped is not None
    piper = PiperSpeaker()
    try:
        fresh = measure_piper(piper, calibrate.CALIBRATION_DRAWS)
    finally:
        piper.close()
    semitones = 12.0 * (fresh.f0_log_mean - shipped.f0_log_mean) / np.log(2.0)
    assert abs(semitones) < 0.5
    assert fresh.f0_log_std == pytest.approx(shipped.f0_log_std, rel=0.15)
    assert float(np.sqrt(np.mean((fresh.envelope_db - shipped.envelope_db) ** 2))) < 1.0
    assert fresh.aperiodicity_db == pytest.approx(shipped.aperiodicity_db, abs=1.0)
    assert fresh.letters_per_second is not None and shipped.letters_per_second is not None
    assert fresh.letters_per_second == pytest.approx(shipped.letters_per_second, rel=0.05)
