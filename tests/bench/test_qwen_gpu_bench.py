"""The GPU benchmark (bench/qwen_gpu.py) runs end to end on the CPU with its tiny
checkpoint, as a process, and writes every measure with values that fit together. It
asserts the shape and arithmetic of what it measures, never speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.qwen_gpu import (
    CODEC_FRAMES_PER_SECOND,
    SIZES,
    TEXT_VOCAB,
    paced_tokens,
    speaker_encoder_config,
    talker_config,
)
from utter.engines.join import PAUSE_SECONDS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 4
BATCHES = [1, 3]


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(
        [sys.executable, "-m", "bench.qwen_gpu", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_tiny_run_writes_every_measure(tmp_path: Path) -> None:
    output = tmp_path / "qwen_gpu.json"
    batches = ",".join(map(str, BATCHES))
    done = run_bench(
        "--tiny", "--frames", str(FRAMES), "--batches", batches, "--output", str(output)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "single stream" in done.stdout and "target ≥ 30" in done.stdout

    result = json.loads(output.read_text())
    assert result["tiny"] is True and result["cuda"] is False
    assert result["device"] == "cpu" and result["dtype"] == "float32"
    assert result["frames"] == FRAMES and result["frame_rate"] == CODEC_FRAMES_PER_SECOND
    assert result["targets"] == {
        "single_stream_x_real_time_0.6b": 4.0,
        "batched_audio_seconds_per_second": 30.0,
    }
    assert result["machine"]["cpus"] >= 1 and result["qwen-tts"] and result["transformers"]

    [size] = result["sizes"]
    assert size["size"] == "tiny"
    assert size["parameters"] > 1_000_000 and size["speech_tokenizer_parameters"] > 100_000
    for key in ("build_seconds", "load_seconds", "prompt_seconds"):
        assert size[key] > 0, key

    rows = size["batches"]
    assert [row["batch"] for row in rows] == BATCHES
    for row in rows:
        audio_seconds = FRAMES / CODEC_FRAMES_PER_SECOND * row["batch"]
        assert row["frames"] == FRAMES
        assert row["audio_seconds"] == pytest.approx(audio_seconds)
        # The end token can never be sampled: every clip is exactly FRAMES frames long.
        assert row["decoded_seconds"] == pytest.approx(audio_seconds, abs=0.001)
        assert row["wall_seconds"] > 0 and row["peak_memory_bytes"] > 0
        assert row["audio_seconds_per_second"] == pytest.approx(
            audio_seconds / row["wall_seconds"], rel=0.01
        )
    assert size["best_batched_audio_seconds_per_second"] == max(
        row["audio_seconds_per_second"] for row in rows
    )

    best = size["best_batched_audio_seconds_per_second"]
    assert size["meets_targets"] == {"single_stream": None, "batched": best >= 30.0}

    single = size["single_stream"]
    assert single == {**rows[0], **{k: single[k] for k in ("x_real_time", "real_time_factor")}}
    assert single["x_real_time"] == single["audio_seconds_per_second"]
    assert single["real_time_factor"] == pytest.approx(
        single["wall_seconds"] / single["audio_seconds"], rel=0.01
    )

    engine = size["engine"]
    assert engine["characters"] > 900
    # Four chunks: the first sentence alone, then three in one batch (the default 4).
    assert (engine["model_calls"], engine["chunks"]) == (2, 4)
    # Each call is held to --frames (the pace of ~340 characters asks for more).
    assert engine["frames_generated"] == 4 * FRAMES
    assert engine["first_call_seconds"] > 0 and engine["wall_seconds"] > 0
    assert engine["peak_memory_bytes"] > 0
    # Four chunks of FRAMES frames joined through three short pauses, less the crossfades.
    spoken = 4 * FRAMES / CODEC_FRAMES_PER_SECOND
    assert spoken * 0.5 < engine["audio_seconds"] <= spoken + 3 * PAUSE_SECONDS
    assert engine["x_real_time"] == pytest.approx(
        engine["audio_seconds"] / engine["wall_seconds"], rel=0.01
    )


def test_full_size_checkpoints_are_as_large_as_the_released_ones() -> None:
    """The configs build (on the meta device: shapes only, no memory) into the released
    sizes: the 0.6B Base's model.safetensors is 1.83 GB in bfloat16; the 1.7B's talker
    is twice as wide, with the same 1,024-wide code predictor behind a projection."""
    import torch
    from qwen_tts.core.models.configuration_qwen3_tts import Qwen3TTSConfig
    from qwen_tts.core.models.modeling_qwen3_tts import Qwen3TTSForConditionalGeneration

    counts = {}
    for name, size in SIZES.items():
        config = Qwen3TTSConfig(
            talker_config=talker_config(size, TEXT_VOCAB),
            speaker_encoder_config=speaker_encoder_config(size),
            tts_model_type="base",
        )
        with torch.device("meta"):
            model = Qwen3TTSForConditionalGeneration(config)
        counts[name] = sum(p.numel() for p in model.parameters())
        predictor = model.talker.code_predictor
        assert isinstance(predictor.small_to_mtp_projection, torch.nn.Linear) == (name == "1.7b")
    assert counts["0.6b"] * 2 / 1e9 == pytest.approx(1.83, abs=0.01)
    assert 1.8e9 < counts["1.7b"] < 2.0e9


def test_engine_calls_are_held_to_the_pace_of_their_longest_text() -> None:
    # 140 characters at 14 a second: 10 s, 125 frames, asked for as 126 tokens.
    assert paced_tokens(["x" * 140, "y" * 20], 2048) == 126
    assert paced_tokens(["x" * 141], 2048) == 127  # a part of a frame is a frame
    assert paced_tokens(["x" * 140], 100) == 100  # never more than the engine asked for


def test_full_size_on_a_cpu_is_refused_with_a_reason() -> None:
    done = run_bench("--device", "cpu", "--sizes", "0.6b")
    assert done.returncode == 2
    assert "would take hours" in done.stderr and "--tiny" in done.stderr


def test_bad_options_are_refused_by_name() -> None:
    done = run_bench("--tiny", "--sizes", "3b")
    assert done.returncode == 2 and "3b" in done.stderr
    done = run_bench("--tiny", "--batches", "1,0")
    assert done.returncode == 2 and "positive" in done.stderr
