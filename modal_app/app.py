"""Utter's Qwen3-TTS on Modal GPUs: two classes, one model each, loaded once per container.

    modal run modal_app/download_models.py   # once: copy the checkpoints into the volume
    modal deploy modal_app/app.py            # then set UTTER_ENGINE=modal in Utter

Run both from the repository root. Utter's `modal` engine looks the classes up by name
(`modal.Cls.from_name(APP_NAME, "QwenClone")`), spawns one call per batch of chunks,
polls it and cancels it when the user cancels. Loading the model per call would cost
seconds each time; here `@modal.enter` loads it when a container starts and every call
the container serves reuses it. Weights come from the volume only: the containers have
no network, so nothing can reach a model hub at serving time.
"""

from __future__ import annotations

import modal

from modal_app.checkpoints import (
    CLONE_CHECKPOINT,
    DESIGN_CHECKPOINT,
    MOUNT_PATH,
    VOLUME_NAME,
    checkpoint_path,
)
from modal_app.service import QwenService

APP_NAME = "utter-qwen3-tts"
GPU = "A10G"  # 24 GB: either 1.7B checkpoint in bfloat16 with room for batches
IDLE_SECONDS = 300  # a warm container waits this long for the next call
CALL_TIMEOUT_SECONDS = 1800

image = (
    modal.Image.debian_slim(python_version="3.12")
    .apt_install("sox", "libsox-fmt-all", "libsndfile1")
    # qwen-tts brings torch, torchaudio (CUDA builds) and transformers.
    .pip_install("qwen-tts==0.1.1", "soundfile>=0.12", "numpy")
    .env({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    .add_local_python_source("modal_app")
)
models = modal.Volume.from_name(VOLUME_NAME, create_if_missing=True)
app = modal.App(APP_NAME, image=image)

_gpu_class = app.cls(
    gpu=GPU,
    volumes={MOUNT_PATH: models},
    scaledown_window=IDLE_SECONDS,
    timeout=CALL_TIMEOUT_SECONDS,
    block_network=True,
)


@_gpu_class
class QwenClone:
    """Clones voices with the Base checkpoint."""

    @modal.enter()
    def load(self) -> None:
        self.service = QwenService.load(checkpoint_path(CLONE_CHECKPOINT), "base")

    @modal.method()
    def clone(
        self,
        texts: list[str],
        language: str,
        ref_audio: bytes,
        ref_text: str,
        max_new_tokens: int,
    ) -> list[bytes]:
        """One 24 kHz WAV per text, spoken in the voice of `ref_audio` (WAV bytes) whose
        transcript is `ref_text`."""
        return self.service.clone(texts, language, ref_audio, ref_text, max_new_tokens)

    @modal.method()
    def languages(self) -> list[str]:
        return self.service.languages()


@_gpu_class
class QwenDesign:
    """Speaks in a voice described in words, with the VoiceDesign checkpoint."""

    @modal.enter()
    def load(self) -> None:
        self.service = QwenService.load(checkpoint_path(DESIGN_CHECKPOINT), "voice_design")

    @modal.method()
    def design(
        self, texts: list[str], language: str, instruct: str, max_new_tokens: int
    ) -> list[bytes]:
        """One 24 kHz WAV per text, in a voice matching `instruct`."""
        return self.service.design(texts, language, instruct, max_new_tokens)

    @modal.method()
    def languages(self) -> list[str]:
        return self.service.languages()
