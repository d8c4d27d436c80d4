"""The clone-quality harness (bench/quality.py) runs end to end on real speech and writes
every measure. It asserts the shape of what it measures, not quality targets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import quality
from bench.quality_speakers import SPEAKERS, select

pytestmark = pytest.mark.slow

QUICK_SPEAKERS = ["Allison", "flite awb"]


def test_every_speaker_has_a_reference_and_held_out_speech_of_other_text() -> None:
    for speaker in SPEAKERS:
        assert speaker.available(), (
            f"{speaker.package} is missing: run scripts/install-test-deps.sh"
        )
        reference = speaker.reference()
        held_out = speaker.held_out()
        assert 8.0 <= reference.seconds <= 25.0, speaker.name
        assert reference.text.strip(), speaker.name
        assert held_out and sum(c.seconds for c in held_out) >= 10.0, speaker.name
        assert all(c.text != reference.text for c in held_out), speaker.name
    assert len({s.person for s in SPEAKERS if s.real}) >= 4
    assert {s.sex for s in SPEAKERS if s.real} == {"female", "male"}


def test_a_quick_run_on_two_speakers_writes_every_column(tmp_path: Path) -> None:
    output = tmp_path / "quality.json"
    assert quality.main(["--speakers", *QUICK_SPEAKERS, "--quick", "--output", str(output)]) == 0
    result = json.loads(output.read_text())

    assert result["quick"] is True and len(result["texts"]) == 1
    rows = result["speakers"]
    assert [r["speaker"] for r in rows] == QUICK_SPEAKERS
    for row in rows:
        assert set(quality.COLUMNS) <= set(row), set(quality.COLUMNS) - set(row)
        for column in quality.COLUMNS:
            value = row[column]
            assert value is not None, (row["speaker"], column)
            if isinstance(value, float):
                assert math.isfinite(value), (row["speaker"], column)
        assert -1.0 <= row["clone_similarity"] <= 1.0
        assert row["gain"] == pytest.approx(row["clone_similarity"] - row["plain_similarity"])
        assert 1 <= row["rank"] <= row["persons"] == 2
        assert 0.0 <= row["pitch_breaks"] <= 1.0
        assert -60.0 < row["lufs"] < 0.0
        assert 60.0 < row["words_per_minute"] < 400.0
        assert row["transcript"].strip()
    assert {d["rule"] for d in result["designs"]} == {"deep", "elderly", "slow", "fast"}
    for design in result["designs"]:
        assert set(quality.DESIGN_COLUMNS) <= set(design)
        assert all(design[c] is not None for c in quality.DESIGN_COLUMNS)
    summary = result["summary"]
    assert summary["speakers"] == 2 and 0 <= summary["rank_one"] <= 2
    assert summary["mean_gain_real"] == pytest.approx(rows[0]["gain"])  # Allison is the real one


def test_unknown_speakers_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="Nobody"):
        select(["Allison", "Nobody"])
    with pytest.raises(SystemExit):
        quality.main(["--speakers", "Nobody"])
