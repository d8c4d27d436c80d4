"""Copy the Qwen3-TTS checkpoints from the Hugging Face hub into the models volume.

    modal run modal_app/download_models.py

Runs on Modal (a CPU container with network), once, and again only to change checkpoints.
The serving app (`app.py`) never downloads: it reads what this put in the volume.
Each checkpoint repository includes its `speech_tokenizer/`, so nothing else is needed.
"""

from __future__ import annotations

import modal

from modal_app.checkpoints import (
    CLONE_CHECKPOINT,
    DESIGN_CHECKPOINT,
    HUB_ORGANISATION,
    MOUNT_PATH,
    VOLUME_NAME,
    checkpoint_path,
)

image = (
    modal.Image.debian_slim(python_version="3.12")
    .pip_install("huggingface_hub>=0.26")
    .add_local_python_source("modal_app")
)
models = modal.Volume.from_name(VOLUME_NAME, create_if_missing=True)
app = modal.App("utter-qwen3-tts-download", image=image)


@app.function(volumes={MOUNT_PATH: models}, timeout=3600)
def download(names: list[str]) -> list[str]:
    from huggingface_hub import snapshot_download

    for name in names:
        snapshot_download(f"{HUB_ORGANISATION}/{name}", local_dir=checkpoint_path(name))
    models.commit()
    return [checkpoint_path(name) for name in names]


@app.local_entrypoint()
def main() -> None:
    for path in download.remote([CLONE_CHECKPOINT, DESIGN_CHECKPOINT]):
        print(f"{path} is ready in the {VOLUME_NAME} volume")
