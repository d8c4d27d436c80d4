"""Qwen3-TTS checkpoints pulled from the Hugging Face hub into DATA_DIR/models, and where
the `qwen` engine finds them when `UTTER_QWEN_MODEL_DIR` / `UTTER_QWEN_DESIGN_MODEL_DIR`
are unset.

`utter models pull qwen [--size 0.6b|1.7b] [--design]` fetches the Base checkpoint of that
size (for cloning) and, with `--design`, the VoiceDesign one, which Qwen released at 1.7B
only: `--design` pulls that one whatever `--size` says (a 0.6B Base clones faster and
still designs with the 1.7B). Each hub repo holds everything the engine loads: the model,
its text tokenizer and, in `speech_tokenizer/`, the 12 Hz codec. Transfers go through
`utter.hub.pull_repo` (resumable, never half there). Importing this module costs nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from utter.hub import models_dir, pull_repo

BASE = "base"
VOICE_DESIGN = "voice_design"
# The pick order when several sizes were pulled: the most capable first.
BASE_REPOS: dict[str, str] = {
    "1.7b": "Qwen/Qwen3-TTS-12Hz-1.7B-Base",
    "0.6b": "Qwen/Qwen3-TTS-12Hz-0.6B-Base",
}
DESIGN_SIZE = "1.7b"
DESIGN_REPO = "Qwen/Qwen3-TTS-12Hz-1.7B-VoiceDesign"
DEFAULT_SIZE = "1.7b"
# Everything else in a repo is the model (config, weights, tokenizer, codec).
IGNORE_FILES = ["*.md", ".gitattributes", "*.png", "*.jpg", "*.gif"]

_KIND_NAMES = {BASE: "Base", VOICE_DESIGN: "VoiceDesign"}


def pulled_path(data_dir: Path, kind: str, size: str) -> Path:
    suffix = "base" if kind == BASE else "voicedesign"
    return models_dir(data_dir) / f"qwen3-tts-{size}-{suffix}"


def pulled_checkpoint(data_dir: Path, kind: str) -> Path | None:
    """The checkpoint of `kind` ("base" or "voice_design") `utter models pull qwen` left
    in DATA_DIR (for Base, the largest size pulled), or None."""
    sizes = list(BASE_REPOS) if kind == BASE else [DESIGN_SIZE]
    for size in sizes:
        path = pulled_path(data_dir, kind, size)
        # A pull renames its directory into place only when complete: presence is enough.
        if (path / "config.json").is_file():
            return path
    return None


def check_checkpoint(directory: Path, kind: str) -> str | None:
    """What keeps a downloaded repo from being a `kind` checkpoint the engine can load (a
    phrase to follow the repo's name), or None."""
    name = _KIND_NAMES[kind]
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "has no readable config.json: it is not a Qwen3-TTS checkpoint."
    found = config.get("tts_model_type") if isinstance(config, dict) else None
    if found != kind:
        return f"holds a {found!r} checkpoint, not a {name} one (tts_model_type {kind!r})."
    if not (directory / "speech_tokenizer" / "config.json").is_file():
        return "has no speech_tokenizer/config.json: the 12 Hz speech tokenizer is missing."
    for folder, where in ((directory, "the model"), (directory / "speech_tokenizer", "its codec")):
        if not any(folder.glob("*.safetensors")):
            return f"has no weights (*.safetensors) for {where}."
    return None


def pull_checkpoint(data_dir: Path, kind: str, size: str) -> Path:
    """Fetch one checkpoint into DATA_DIR/models/qwen3-tts-<size>-<kind>. Raises
    utter.hub.PullError (one line) and then leaves no checkpoint the engine would take."""
    repo = BASE_REPOS[size] if kind == BASE else DESIGN_REPO
    return pull_repo(
        repo,
        pulled_path(data_dir, kind, size if kind == BASE else DESIGN_SIZE),
        ignore_patterns=IGNORE_FILES,
        check=lambda directory: check_checkpoint(directory, kind),
    )
