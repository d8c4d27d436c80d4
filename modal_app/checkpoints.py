"""Where the Modal app's checkpoints live: one Modal Volume, one directory per checkpoint.

`download_models.py` fills the volume from the hub once; `app.py` only reads it. Change
`CLONE_CHECKPOINT` to the 0.6B Base to trade quality for speed and memory (then re-run
both: download, deploy).
"""

from __future__ import annotations

VOLUME_NAME = "utter-qwen3-tts-models"
MOUNT_PATH = "/models"

CLONE_CHECKPOINT = "Qwen3-TTS-12Hz-1.7B-Base"  # or "Qwen3-TTS-12Hz-0.6B-Base"
DESIGN_CHECKPOINT = "Qwen3-TTS-12Hz-1.7B-VoiceDesign"
HUB_ORGANISATION = "Qwen"


def checkpoint_path(name: str) -> str:
    """The directory of checkpoint `name` inside the mounted volume."""
    return f"{MOUNT_PATH}/{name}"
