"""Which pulled Qwen3-TTS checkpoint the engine takes, and what makes a download one: on
directories shaped like checkpoints (the files the check reads; no weights to load)."""

from __future__ import annotations

import json
from pathlib import Path

from utter.engines.qwen_pull import check_checkpoint, pulled_checkpoint, pulled_path
from utter.hub import partial_dir


def shaped(directory: Path, kind: str) -> Path:
    (directory / "speech_tokenizer").mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps({"tts_model_type": kind}))
    (directory / "model.safetensors").write_bytes(b"")
    (directory / "speech_tokenizer" / "config.json").write_text("{}")
    (directory / "speech_tokenizer" / "model.safetensors").write_bytes(b"")
    return directory


def test_the_largest_pulled_base_is_taken_and_a_partial_one_never(tmp_path: Path) -> None:
    assert pulled_checkpoint(tmp_path, "base") is None
    # An unfinished pull is left under its .partial name: not a checkpoint.
    shaped(partial_dir(pulled_path(tmp_path, "base", "1.7b")), "base")
    assert pulled_checkpoint(tmp_path, "base") is None

    small = shaped(pulled_path(tmp_path, "base", "0.6b"), "base")
    assert small == tmp_path / "models" / "qwen3-tts-0.6b-base"
    assert pulled_checkpoint(tmp_path, "base") == small
    assert pulled_checkpoint(tmp_path, "voice_design") is None

    large = shaped(pulled_path(tmp_path, "base", "1.7b"), "base")
    assert pulled_checkpoint(tmp_path, "base") == large
    design = shaped(pulled_path(tmp_path, "voice_design", "1.7b"), "voice_design")
    assert design == tmp_path / "models" / "qwen3-tts-1.7b-voicedesign"
    assert pulled_checkpoint(tmp_path, "voice_design") == design


def test_a_download_is_a_checkpoint_only_with_its_config_codec_and_weights(tmp_path: Path) -> None:
    base = shaped(tmp_path / "base", "base")
    assert check_checkpoint(base, "base") is None
    assert check_checkpoint(base, "voice_design") == (
        "holds a 'base' checkpoint, not a VoiceDesign one (tts_model_type 'voice_design')."
    )

    (base / "speech_tokenizer" / "model.safetensors").unlink()
    assert check_checkpoint(base, "base") == "has no weights (*.safetensors) for its codec."
    (base / "model.safetensors").unlink()
    assert check_checkpoint(base, "base") == "has no weights (*.safetensors) for the model."
    (base / "speech_tokenizer" / "config.json").unlink()
    assert check_checkpoint(base, "base") == (
        "has no speech_tokenizer/config.json: the 12 Hz speech tokenizer is missing."
    )
    (base / "config.json").write_text("not json")
    assert check_checkpoint(base, "base") == (
        "has no readable config.json: it is not a Qwen3-TTS checkpoint."
    )
    assert check_checkpoint(tmp_path / "nothing", "base") == (
        "has no readable config.json: it is not a Qwen3-TTS checkpoint."
    )
