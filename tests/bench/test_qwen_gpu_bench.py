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

from bench.qwen_gpu import CODEC_FRAMES_PER_SECOND
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


def test_full_size_on_a_cpu_is_refused_with_a_reason() -> None:
    done = run_bench("--device", "cpu", "--sizes", "0.6b")
    assert done.returncode == 2
    assert "would take hours" in done.stderr and "--tiny" in done.stderr


def test_bad_options_are_refused_by_name() -> None:
    done = run_bench("--tiny", "--sizes", "3b")
    assert done.returncode == 2 and "3b" in done.stderr
    done = run_bench("--tiny", "--batches", "1,0")
    assert done.returncode == 2 and "positive" in done.stderr
