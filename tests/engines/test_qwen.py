"""The `qwen` engine on CPU: the real qwen-tts loading and generation code, run on tiny
random checkpoints (so the audio is noise: shapes, rates and bounds are what is checked)."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.qwen_tiny import TinyQwen, tiny_reference
from utter.engines.base import Audio, Cancelled, JobControl, Reference, UnsupportedLanguage
from utter.engines.join import PAUSE_SECONDS
from utter.engines.qwen import QwenEngine, QwenModelError, load_model, read_checkpoint
from utter.engines.qwen_common import (
    CODEC_FRAMES_PER_SECOND,
    api_languages,
    max_new_tokens_for,
    synthesize_in_groups,
)
from utter.engines.text import chunk_text, max_duration_seconds
from utter.settings import Settings

pytestmark = pytest.mark.usefixtures("torch_single_thread")

# Five sentences of about 40 characters: with a 60-character window, one chunk each.
LONG_TEXT = (
    "The quick brown fox jumps over the dog. "
    "A second sentence follows the first one. "
    "Then a third one arrives, right on time. "
    "The fourth sentence is nearly the last. "
    "And this fifth sentence ends the text."
)


class Spy:
    """Records the keyword arguments of every call to a qwen-tts model method, and runs
    the real method."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        from qwen_tts import Qwen3TTSModel

        self.calls: list[dict[str, Any]] = []
        original: Callable[..., Any] = getattr(Qwen3TTSModel, name)

        def spy(model: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(kwargs)
            return original(model, *args, **kwargs)

        monkeypatch.setattr(Qwen3TTSModel, name, spy)


def assert_valid_output(audio: Audio) -> None:
    assert audio.sample_rate == 24_000
    assert audio.samples.dtype == np.float32
    assert audio.samples.ndim == 1
    assert audio.samples.size > 0
    assert np.isfinite(audio.samples).all()
    assert np.abs(audio.samples).max() <= 1.0


def test_long_text_is_spoken_in_batched_chunks_with_progress(
    tiny_qwen: TinyQwen, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate = Spy(monkeypatch, "generate_voice_clone")
    engine = QwenEngine(tiny_qwen.base, max_chunk_chars=60, batch_size=2, max_new_tokens=8)
    progress: list[tuple[int, int]] = []
    chunks = chunk_text(LONG_TEXT, 60)
    assert len(chunks) == 5

    audio = engine.generate(
        LONG_TEXT,
        "English",
        tiny_reference(),
        JobControl(on_progress=lambda d, t: progress.append((d, t))),
    )

    assert [call["text"] for call in generate.calls] == [chunks[0:1], chunks[1:3], chunks[3:5]]
    assert [call["language"] for call in generate.calls] == [["English"]] + [["English"] * 2] * 2
    # The cap (8) is below what these texts could need, so it is what the model is given.
    assert [call["max_new_tokens"] for call in generate.calls] == [8, 8, 8]
    assert progress == [(0, 5), (1, 5), (3, 5), (5, 5)]
    assert_valid_output(audio)
    # 8 codec frames per chunk at most, plus the pauses of the four joins.
    assert audio.duration <= 5 * 8 / CODEC_FRAMES_PER_SECOND + 4 * PAUSE_SECONDS + 0.01
    engine.close()


def test_max_new_tokens_follows_the_text_length() -> None:
    short, longer = "Hi.", "A somewhat longer sentence that needs more time to say."
    assert max_new_tokens_for([short], 2048) == math.ceil(
        max_duration_seconds(short) * CODEC_FRAMES_PER_SECOND
    )
    # A batch is bounded by its longest text, and never beyond the cap.
    assert max_new_tokens_for([short, longer], 2048) == max_new_tokens_for([longer], 2048)
    assert max_new_tokens_for([short, longer], 10) == 10


def test_each_chunk_is_cut_to_its_duration_bound() -> None:
    # A model that never stopped: 60 s of audio for each of two short chunks.
    texts = ["Hi.", "Bye."]
    endless = np.full(60 * 24_000, 0.1, dtype=np.float32)
    audio = synthesize_in_groups(texts, 2, lambda group: [endless] * len(group), JobControl())
    bound = sum(max_duration_seconds(t) for t in texts) + PAUSE_SECONDS
    assert audio.duration == pytest.approx(bound, abs=0.01)


def test_the_clone_prompt_is_built_once_per_voice(
    tiny_qwen: TinyQwen, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts = Spy(monkeypatch, "create_voice_clone_prompt")
    generate = Spy(monkeypatch, "generate_voice_clone")
    engine = QwenEngine(tiny_qwen.base, max_new_tokens=4)
    voice = tiny_reference("voice-1")

    engine.generate("First words.", "English", voice, JobControl())
    engine.generate("Second words.", "Auto", voice, JobControl())
    assert len(prompts.calls) == 1
    # One prompt item per text (a batch may mix voices); both calls use the built one.
    [first], [second] = (call["voice_clone_prompt"] for call in generate.calls)
    assert first is second
    # The reference with its transcript: ICL mode.
    assert prompts.calls[0]["ref_text"] == voice.transcript
    assert prompts.calls[0]["x_vector_only_mode"] is False

    engine.generate("Other voice.", "English", tiny_reference("voice-2", pitch=220.0), JobControl())
    assert len(prompts.calls) == 2

    # Same id, new recording (a voice re-finalised): the prompt is rebuilt, not reused.
    changed = Reference(
        voice_id="voice-1",
        audio=Audio(voice.audio.samples * 0.5, voice.audio.sample_rate),
        transcript=voice.transcript,
        language=voice.language,
    )
    engine.generate("Third words.", "English", changed, JobControl())
    assert len(prompts.calls) == 3
    engine.close()


def test_cancelling_stops_before_the_next_group(
    tiny_qwen: TinyQwen, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate = Spy(monkeypatch, "generate_voice_clone")
    engine = QwenEngine(tiny_qwen.base, max_chunk_chars=60, batch_size=2, max_new_tokens=4)
    progress: list[tuple[int, int]] = []
    # The user cancels as soon as the first group is done.
    control = JobControl(
        is_cancelled=lambda: bool(progress) and progress[-1][0] > 0,
        on_progress=lambda d, t: progress.append((d, t)),
    )

    with pytest.raises(Cancelled):
        engine.generate(LONG_TEXT, "English", tiny_reference(), control)

    assert len(generate.calls) == 1
    assert progress == [(0, 5), (1, 5)]  # the first chunk is a group of its own
    engine.close()


def test_design_speaks_with_the_voice_design_checkpoint(
    tiny_qwen: TinyQwen, monkeypatch: pytest.MonkeyPatch
) -> None:
    design = Spy(monkeypatch, "generate_voice_design")
    engine = QwenEngine(tiny_qwen.base, tiny_qwen.voice_design, max_new_tokens=6)
    assert engine.capabilities().design

    audio = engine.design(
        "Hello from a designed voice.", "English", "A calm, low male voice.", JobControl()
    )

    assert_valid_output(audio)
    assert audio.duration <= 6 / CODEC_FRAMES_PER_SECOND + 0.01
    assert design.calls[0]["instruct"] == ["A calm, low male voice."]
    assert design.calls[0]["text"] == ["Hello from a designed voice."]
    engine.close()


def test_design_without_a_voice_design_checkpoint_is_off(tiny_qwen: TinyQwen) -> None:
    engine = QwenEngine(tiny_qwen.base)
    assert engine.capabilities().design is False
    with pytest.raises(QwenModelError, match="UTTER_QWEN_DESIGN_MODEL_DIR"):
        engine.design("Hello.", "English", "A calm voice.", JobControl())


def test_languages_are_what_the_checkpoint_accepts(tiny_qwen: TinyQwen) -> None:
    engine = QwenEngine(tiny_qwen.base, tiny_qwen.voice_design)
    languages = engine.capabilities().languages
    # The tiny checkpoints know english, german, chinese, japanese and french, plus
    # esperanto (no API name) and a dialect (which qwen-tts never lists): API order.
    assert languages == ("Auto", "English", "Chinese", "Japanese", "French", "German")

    # The same list the loaded model gives, without loading it for capabilities().
    model = load_model(read_checkpoint(tiny_qwen.base, "UTTER_QWEN_MODEL_DIR", "base"), "cpu")
    assert api_languages(model.get_supported_languages()) == languages

    with pytest.raises(UnsupportedLanguage, match="Korean"):
        engine.generate("Hello.", "Korean", tiny_reference(), JobControl())


def test_a_missing_or_wrong_model_dir_refuses_to_start(tiny_qwen: TinyQwen, tmp_path: Path) -> None:
    with pytest.raises(QwenModelError, match="UTTER_QWEN_MODEL_DIR is not set"):
        QwenEngine(None)
    with pytest.raises(QwenModelError, match="does not exist"):
        QwenEngine(tmp_path / "nowhere")
    with pytest.raises(QwenModelError, match="not a Qwen3-TTS checkpoint"):
        QwenEngine(tmp_path)
    # The VoiceDesign checkpoint named where the Base one belongs, and the reverse.
    with pytest.raises(QwenModelError, match="must be a Base checkpoint"):
        QwenEngine(tiny_qwen.voice_design)
    with pytest.raises(QwenModelError, match=r"UTTER_QWEN_DESIGN_MODEL_DIR.*VoiceDesign"):
        QwenEngine(tiny_qwen.base, tiny_qwen.base)

    # A checkpoint whose weights were never downloaded fails at load, not silently.
    partial = tmp_path / "partial"
    shutil.copytree(tiny_qwen.base, partial, ignore=shutil.ignore_patterns("*.safetensors"))
    engine = QwenEngine(partial, max_new_tokens=4)
    with pytest.raises(QwenModelError, match="Cannot load"):
        engine.generate("Hello.", "English", tiny_reference(), JobControl())


def test_settings_configure_the_engine(tiny_qwen: TinyQwen) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        qwen_model_dir=tiny_qwen.base,
        qwen_design_model_dir=tiny_qwen.voice_design,
        qwen_device="cpu",
        qwen_max_chunk_chars=120,
    )
    capabilities = QwenEngine.from_settings(settings).capabilities()
    assert capabilities.name == "qwen"
    assert capabilities.max_chunk_chars == 120
    assert capabilities.clone and capabilities.design


def test_create_engine_builds_qwen_and_refuses_without_a_checkpoint(
    tiny_qwen: TinyQwen, tmp_path: Path
) -> None:
    from utter.engines import create_engine

    configured = Settings(_env_file=None, engine="qwen", qwen_model_dir=tiny_qwen.base)  # type: ignore[call-arg]
    assert isinstance(create_engine(configured), QwenEngine)
    unset = Settings(_env_file=None, engine="qwen", data_dir=tmp_path)  # type: ignore[call-arg]
    with pytest.raises(QwenModelError, match="UTTER_QWEN_MODEL_DIR is not set"):
        create_engine(unset)


def test_engine_modules_import_without_torch_or_modal() -> None:
    # The base install has neither: choosing an engine must not import them until used.
    probe = (
        "import sys, utter.engines, utter.engines.qwen, utter.engines.modal; "
        "print(sorted({'torch', 'qwen_tts', 'modal'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
