"""How fast Qwen3-TTS runs on a GPU, with full-size checkpoints of random weights.

    .venv/bin/python -m bench.qwen_gpu                      # a CUDA machine: 0.6B and 1.7B
    .venv/bin/python -m bench.qwen_gpu --sizes 0.6b --batches 1,8 --frames 125
    .venv/bin/python -m bench.qwen_gpu --tiny               # tiny checkpoint on the CPU

No weights are downloaded: each size's checkpoint is built here, with the released
architecture (talker, code predictor, speaker encoder and the 12.5 Hz speech tokenizer at
their real widths and depths) and random weights, saved, and loaded back through
`qwen_tts.Qwen3TTSModel.from_pretrained` as the `qwen` engine loads a real one. Random
weights cost exactly the compute per token that trained ones do; only the audio is noise.

A trained model ends a clip when it samples its end-of-speech codec token; random weights
would end at random. The built checkpoints name an end token past the codec vocabulary,
which can never be sampled (qwen-tts suppresses every control token but that one), so a
call generates exactly the frames it is allowed: `--frames F` for the model measures, and
for the engine run the frames real speech of each batch's longest chunk takes at
SPEAKING_PACE characters a second.

Measures, per size:
- single stream: one ~280-character text, F frames, as x real time (audio seconds per
  wall second) and real-time factor (wall / audio);
- batched: the same call with B texts (`--batches`), as audio seconds per second;
- engine: `QwenEngine.generate` on a ~1,000-character text (chunking, batching,
  crossfades), after a first call that loads the model and builds the voice prompt;
- peak GPU memory of each (torch.cuda.max_memory_allocated; on a CPU the process's
  peak resident memory, which only grows).

Prints a table, with the targets beside the figures, and writes bench/results/qwen_gpu.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

from bench.engine import LONG_TEXT, SHORT_TEXT
from bench.machine import machine
from tests.support.qwen_tiny import build_tiny_checkpoint, tiny_reference
from utter.engines import qwen as qwen_engine
from utter.engines.base import JobControl, Reference
from utter.engines.qwen_common import CODEC_FRAMES_PER_SECOND, SAMPLE_RATE

RESULTS = Path(__file__).parent / "results" / "qwen_gpu.json"

TARGET_SINGLE_STREAM = 4.0  # x real time, one stream, 0.6B
TARGET_BATCHED = 30.0  # audio seconds per second, best batch

SPEAKING_PACE = 14.0  # characters a second of ordinary English read aloud

CODEC_VOCAB = 3072  # talker codec vocabulary: 2048 codebook entries + control ids
TEXT_VOCAB = 151_936  # the released Qwen2 text vocabulary (sets the embedding table's size)
# Codec language ids of the released talkers (English is the one the bench speaks).
CODEC_LANGUAGES = {
    "english": 2050,
    "german": 2052,
    "spanish": 2054,
    "chinese": 2055,
    "japanese": 2058,
    "french": 2061,
    "korean": 2064,
    "russian": 2069,
    "italian": 2070,
}


@dataclass(frozen=True)
class Size:
    """What differs between the released Base checkpoints: the talker's width."""

    name: str
    label: str  # the config's tts_model_size
    hidden: int
    intermediate: int


SIZES = {
    "0.6b": Size("0.6b", "0b6", hidden=1024, intermediate=3072),
    "1.7b": Size("1.7b", "1b7", hidden=2048, intermediate=6144),
}


def talker_config(size: Size, text_vocab_size: int) -> dict[str, Any]:
    """The released talker: 28 layers, 16 query and 8 key/value heads of 128, multimodal
    RoPE; its code predictor is 1,024 wide and 5 layers deep at both sizes (the 1.7B
    projects into it). The end token is `CODEC_VOCAB`, which no logit can produce."""
    return {
        "vocab_size": CODEC_VOCAB,
        "hidden_size": size.hidden,
        "intermediate_size": size.intermediate,
        "num_hidden_layers": 28,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "rope_theta": 1_000_000,
        "rope_scaling": {
            "rope_type": "default",
            "mrope_section": [24, 20, 20],
            "interleaved": True,
        },
        "max_position_embeddings": 32_768,
        "num_code_groups": 16,
        "text_hidden_size": 2048,
        "text_vocab_size": text_vocab_size,
        "codec_pad_id": 2148,
        "codec_bos_id": 2149,
        "codec_eos_token_id": CODEC_VOCAB,
        "codec_think_id": 2154,
        "codec_nothink_id": 2155,
        "codec_think_bos_id": 2156,
        "codec_think_eos_id": 2157,
        "codec_language_id": dict(CODEC_LANGUAGES),
        "spk_id": {},
        "spk_is_dialect": {},
        "code_predictor_config": {
            "vocab_size": 2048,
            "hidden_size": 1024,
            "intermediate_size": 3072,
            "num_hidden_layers": 5,
            "num_attention_heads": 16,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "rope_theta": 1_000_000,
            "max_position_embeddings": 65_536,
            "num_code_groups": 16,
        },
    }


def speaker_encoder_config(size: Size) -> dict[str, Any]:
    # The ECAPA-TDNN's embedding joins the talker's input, so it is as wide as the talker.
    return {
        "mel_dim": 128,
        "enc_dim": size.hidden,
        "enc_channels": [512, 512, 512, 512, 1536],
        "enc_kernel_sizes": [5, 3, 3, 3, 1],
        "enc_dilations": [1, 2, 3, 4, 1],
        "enc_attention_channels": 128,
        "enc_res2net_scale": 8,
        "enc_se_channels": 128,
        "sample_rate": SAMPLE_RATE,
    }


# The 12.5 Hz speech tokenizer: a Mimi encoder (for references) and the decoder that
# turns 16 codebooks into 24 kHz audio (8 transformer layers, then 2·2·8·5·4·3 = 1920×
# upsampling). Both sizes share it.
SPEECH_ENCODER: dict[str, Any] = {
    "sampling_rate": SAMPLE_RATE,
    "frame_rate": 12.5,
    "hidden_size": 512,
    "num_filters": 64,
    "num_hidden_layers": 8,
    "num_attention_heads": 8,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "intermediate_size": 2048,
    "sliding_window": 250,
    "upsampling_ratios": [8, 6, 5, 4],
    "codebook_size": 2048,
    "codebook_dim": 256,
    "num_quantizers": 32,
    "num_semantic_quantizers": 1,
}
SPEECH_DECODER: dict[str, Any] = {
    "codebook_size": 2048,
    "codebook_dim": 512,
    "num_quantizers": 16,
    "hidden_size": 512,
    "latent_dim": 1024,
    "decoder_dim": 1536,
    "intermediate_size": 1024,
    "num_hidden_layers": 8,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "head_dim": 64,
    "sliding_window": 72,
    "upsample_rates": [8, 5, 4, 3],
    "upsampling_ratios": [2, 2],
}

GENERATION_DEFAULTS: dict[str, Any] = {
    "do_sample": True,
    "top_k": 50,
    "top_p": 1.0,
    "temperature": 0.9,
    "repetition_penalty": 1.05,
    "subtalker_dosample": True,
    "subtalker_top_k": 50,
    "subtalker_top_p": 1.0,
    "subtalker_temperature": 0.9,
    "max_new_tokens": 8192,
}


def _text_tokenizer() -> Any:
    """One token a byte (byte-level BPE without merges) plus the Qwen chat and TTS tokens.
    The released BPE makes about a quarter as many tokens of English; text tokens only
    lengthen the prompt, which is one forward pass, not the frames."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast

    symbols = sorted(pre_tokenizers.ByteLevel.alphabet())
    core = Tokenizer(models.BPE(vocab={s: i for i, s in enumerate(symbols)}, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=core,
        eos_token="<|endoftext|>",  # noqa: S106 (a token, not a password)
        pad_token="<|endoftext|>",  # noqa: S106
        bos_token=None,
        unk_token=None,
    )
    tokenizer.add_special_tokens(
        {
            "additional_special_tokens": [
                "<|im_start|>",
                "<|im_end|>",
                "<|tts_pad|>",
                "<|tts_text_bos|>",
                "<|tts_text_eod|>",
            ]
        }
    )
    return tokenizer


def _built_on(device: str, make: Callable[[], Any]) -> Any:
    """`make()` with new tensors on `device` (random initialisation of billions of weights
    takes seconds on a GPU, a minute or more on a CPU); on the CPU if that fails."""
    import torch

    if device == "cpu":
        return make()
    try:
        with torch.device(device):
            return make()
    except (RuntimeError, TypeError) as error:
        print(f"building on {device} failed ({error}); building on the CPU", file=sys.stderr)
        return make()


def build_checkpoint(directory: Path, size: Size, device: str, dtype: Any) -> None:
    """Write a random-weight Base checkpoint of `size` into `directory` (built on `device`,
    saved in `dtype`; the speech tokenizer in float32, as released)."""
    import torch
    from qwen_tts.core.models.configuration_qwen3_tts import Qwen3TTSConfig
    from qwen_tts.core.models.modeling_qwen3_tts import Qwen3TTSForConditionalGeneration
    from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import (
        Qwen3TTSTokenizerV2Config,
    )
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
        Qwen3TTSTokenizerV2Model,
    )
    from transformers import EncodecFeatureExtractor

    directory.mkdir(parents=True)
    torch.manual_seed(0)
    tokenizer = _text_tokenizer()
    ids = {
        name: tokenizer.convert_tokens_to_ids(token)
        for name, token in (
            ("im_start_token_id", "<|im_start|>"),
            ("im_end_token_id", "<|im_end|>"),
            ("tts_pad_token_id", "<|tts_pad|>"),
            ("tts_bos_token_id", "<|tts_text_bos|>"),
            ("tts_eos_token_id", "<|tts_text_eod|>"),
        )
    }
    config = Qwen3TTSConfig(
        talker_config=talker_config(size, TEXT_VOCAB),
        speaker_encoder_config=speaker_encoder_config(size),
        tokenizer_type="qwen3_tts_tokenizer_12hz",
        tts_model_size=size.label,
        tts_model_type="base",
        **ids,
    )
    config.architectures = ["Qwen3TTSForConditionalGeneration"]
    model = _built_on(device, lambda: Qwen3TTSForConditionalGeneration(config).to(dtype))
    model.save_pretrained(directory)
    del model
    saved = json.loads((directory / "config.json").read_text())
    # Qwen3TTSSpeakerEncoderConfig takes exactly its own arguments (no **kwargs).
    saved["speaker_encoder_config"] = speaker_encoder_config(size)
    (directory / "config.json").write_text(json.dumps(saved, indent=1))
    (directory / "generation_config.json").write_text(json.dumps(GENERATION_DEFAULTS))
    (directory / "processor_config.json").write_text(
        json.dumps({"processor_class": "Qwen3TTSProcessor"})
    )
    tokenizer.save_pretrained(directory)

    speech = Qwen3TTSTokenizerV2Config(
        encoder_config=dict(SPEECH_ENCODER),
        decoder_config=dict(SPEECH_DECODER),
        encoder_valid_num_quantizers=16,
    )
    speech.architectures = ["Qwen3TTSTokenizerV2Model"]
    codec = _built_on(device, lambda: Qwen3TTSTokenizerV2Model(speech))
    with torch.no_grad():
        # Codebooks are learnt as running sums that start at zero; random ones make every
        # code decode to something different, as trained ones do.
        for name, tensor in [*codec.named_parameters(), *codec.named_buffers()]:
            if name.endswith(("embedding_sum", "embed_sum")):
                tensor.normal_()
    codec.save_pretrained(directory / "speech_tokenizer")
    del codec
    EncodecFeatureExtractor(
        feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, return_attention_mask=True
    ).save_pretrained(directory / "speech_tokenizer")


def build_tiny(directory: Path) -> None:
    """The tests' tiny checkpoint, with the same unreachable end token as the full ones."""
    build_tiny_checkpoint(directory, "base")
    config_file = directory / "config.json"
    config = json.loads(config_file.read_text())
    config["talker_config"]["codec_eos_token_id"] = config["talker_config"]["vocab_size"]
    config_file.write_text(json.dumps(config, indent=1))


class Device:
    """Synchronising, timing and peak memory on CUDA or the CPU."""

    def __init__(self, name: str) -> None:
        import torch

        self.name = name
        self.cuda = name.startswith("cuda")
        self._torch = torch

    def synchronize(self) -> None:
        if self.cuda:
            self._torch.cuda.synchronize(self.name)

    def reset_peak(self) -> None:
        if self.cuda:
            self._torch.cuda.reset_peak_memory_stats(self.name)

    def peak_bytes(self) -> int:
        if self.cuda:
            return int(self._torch.cuda.max_memory_allocated(self.name))
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def release(self) -> None:
        gc.collect()
        if self.cuda:
            self._torch.cuda.empty_cache()

    def timed(self, work: Callable[[], Any]) -> tuple[float, Any, int]:
        """(seconds, result, peak bytes) of one call, the device drained on both sides."""
        self.synchronize()
        self.reset_peak()
        start = time.perf_counter()
        result = work()
        self.synchronize()
        return time.perf_counter() - start, result, self.peak_bytes()

    def describe(self) -> dict[str, Any]:
        torch = self._torch
        info: dict[str, Any] = {"device": self.name, "torch": torch.__version__}
        for package in ("transformers", "qwen-tts", "flash-attn"):
            try:
                info[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                info[package] = None
        if self.cuda:
            props = torch.cuda.get_device_properties(self.name)
            info["gpu"] = props.name
            info["gpu_memory_bytes"] = int(props.total_memory)
            info["cuda_version"] = torch.version.cuda
        return info


def batch_row(model: Any, device: Device, prompt: Any, batch: int, frames: int) -> dict[str, Any]:
    """One generate_voice_clone call of `batch` texts, `frames` frames each."""
    wall, (wavs, rate), peak = device.timed(
        lambda: model.generate_voice_clone(
            text=[SHORT_TEXT] * batch,
            language=["English"] * batch,
            voice_clone_prompt=prompt,
            max_new_tokens=tokens_for(frames),
        )
    )
    audio_seconds = batch * frames / CODEC_FRAMES_PER_SECOND
    decoded_seconds = sum(len(wav) for wav in wavs) / rate
    return {
        "batch": batch,
        "frames": frames,
        "audio_seconds": audio_seconds,
        "decoded_seconds": round(decoded_seconds, 3),
        "wall_seconds": round(wall, 3),
        "audio_seconds_per_second": audio_seconds / wall,
        "peak_memory_bytes": peak,
    }


def tokens_for(frames: int) -> int:
    """The max_new_tokens that yields `frames` frames: the talker's last step samples a
    first-codebook token whose other 15 codebooks are never predicted, so qwen-tts drops
    it, and a call that runs to its limit returns one frame fewer than it was allowed."""
    return frames + 1


def paced_tokens(texts: Sequence[str], max_new_tokens: int) -> int:
    """The max_new_tokens for the frames the longest of `texts` takes at SPEAKING_PACE,
    never more than `max_new_tokens`."""
    longest = max(len(text) for text in texts)
    frames = math.ceil(longest / SPEAKING_PACE * CODEC_FRAMES_PER_SECOND)
    return min(max_new_tokens, tokens_for(frames))


class PacedModel:
    """The engine's loaded model, each call held to the frames that its longest text takes
    at SPEAKING_PACE (never more than the engine asked for): with an end token that never
    comes, the engine's own bound (the slowest plausible pace) would make every chunk
    several times longer than speech. Counts the frames and calls it made."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.calls: list[tuple[int, int]] = []  # (batch, frames)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def generate_voice_clone(self, *, text: Sequence[str], max_new_tokens: int, **rest: Any) -> Any:
        tokens = paced_tokens(text, max_new_tokens)
        self.calls.append((len(text), tokens - 1))
        return self._model.generate_voice_clone(text=text, max_new_tokens=tokens, **rest)


@contextmanager
def paced_engine_models() -> Iterator[list[PacedModel]]:
    """While open, every model the qwen engine loads is wrapped in a PacedModel."""
    loaded: list[PacedModel] = []
    real_load = qwen_engine.load_model

    def load(checkpoint: Any, device: str) -> PacedModel:
        model = PacedModel(real_load(checkpoint, device))
        loaded.append(model)
        return model

    with mock.patch.object(qwen_engine, "load_model", load):
        yield loaded


def engine_run(
    directory: Path, device: Device, reference: Reference, max_new_tokens: int
) -> dict[str, Any]:
    """QwenEngine.generate on LONG_TEXT, as a worker runs it (default chunk size and batch),
    after a first short call that loads the model and builds the voice prompt."""
    with paced_engine_models() as loaded:
        engine = qwen_engine.QwenEngine(
            directory, device=device.name, max_new_tokens=max_new_tokens
        )
        try:
            first, _, _ = device.timed(
                lambda: engine.generate(SHORT_TEXT[:80], "English", reference, JobControl())
            )
            model = loaded[0]
            model.calls.clear()
            wall, audio, peak = device.timed(
                lambda: engine.generate(LONG_TEXT, "English", reference, JobControl())
            )
        finally:
            engine.close()
    audio_seconds = len(audio.samples) / audio.sample_rate
    frames = sum(batch * frames for batch, frames in model.calls)
    return {
        "characters": len(LONG_TEXT),
        "model_calls": len(model.calls),
        "chunks": sum(batch for batch, _ in model.calls),
        "frames_generated": frames,
        "first_call_seconds": round(first, 3),
        "wall_seconds": round(wall, 3),
        "audio_seconds": round(audio_seconds, 3),
        "x_real_time": audio_seconds / wall,
        "peak_memory_bytes": peak,
    }


def measure_model(
    directory: Path,
    device: Device,
    dtype: Any,
    batches: Sequence[int],
    frames: int,
    reference: Reference,
) -> dict[str, Any]:
    """Load the checkpoint as the engine does, build a voice prompt, then time one
    stream and each batch size. The model is freed when this returns."""
    from qwen_tts import Qwen3TTSModel

    attention = qwen_engine.attention_implementation(device.name)
    load_seconds, model, _ = device.timed(
        lambda: Qwen3TTSModel.from_pretrained(
            str(directory),
            device_map=device.name,
            dtype=dtype,
            attn_implementation=attention,
            local_files_only=True,
        )
    )
    prompt_seconds, prompt, _ = device.timed(
        lambda: model.create_voice_clone_prompt(
            ref_audio=(reference.audio.samples, reference.audio.sample_rate),
            ref_text=reference.transcript,
        )
    )
    batch_row(model, device, prompt, 1, min(frames, 3))  # warm-up: kernels, allocator
    single = batch_row(model, device, prompt, 1, frames)
    rows = [
        single if batch == 1 else batch_row(model, device, prompt, batch, frames)
        for batch in batches
    ]
    return {
        "parameters": sum(p.numel() for p in model.model.parameters()),
        "speech_tokenizer_parameters": sum(
            p.numel() for p in model.model.speech_tokenizer.model.parameters()
        ),
        "attention": attention,
        "load_seconds": round(load_seconds, 3),
        "prompt_seconds": round(prompt_seconds, 3),
        "single_stream": {
            **single,
            "x_real_time": single["audio_seconds_per_second"],
            "real_time_factor": single["wall_seconds"] / single["audio_seconds"],
        },
        "batches": rows,
        "best_batched_audio_seconds_per_second": max(r["audio_seconds_per_second"] for r in rows),
    }


def measure_size(
    name: str,
    build: Callable[[Path], None],
    workdir: Path,
    device: Device,
    dtype: Any,
    batches: Sequence[int],
    frames: int,
    reference: Reference,
    engine_max_new_tokens: int,
) -> dict[str, Any]:
    directory = workdir / name
    build_seconds, _, _ = device.timed(lambda: build(directory))
    device.release()
    model = measure_model(directory, device, dtype, batches, frames, reference)
    device.release()
    engine = engine_run(directory, device, reference, engine_max_new_tokens)
    shutil.rmtree(directory, ignore_errors=True)
    device.release()
    best = model["best_batched_audio_seconds_per_second"]
    return {
        "size": name,
        "build_seconds": round(build_seconds, 3),
        **model,
        "engine": engine,
        "meets_targets": {
            # The single-stream target is the 0.6B's; the 1.7B is the slower, better one.
            "single_stream": model["single_stream"]["x_real_time"] >= TARGET_SINGLE_STREAM
            if name == "0.6b"
            else None,
            "batched": best >= TARGET_BATCHED,
        },
    }


def _gib(value: int) -> str:
    return f"{value / 2**30:.2f}"


def print_table(result: dict[str, Any]) -> None:
    memory = "peak GiB" + (" (GPU)" if result["cuda"] else " (process RSS)")
    print(f"\nQwen3-TTS, random weights, {result['frames']} frames a call, on {result['device']}")
    print(
        f"{'size':<6} {'measure':<22} {'audio s':>9} {'wall s':>8} {'audio s/s':>10} {memory:>22}"
    )
    for size in result["sizes"]:
        single = size["single_stream"]
        target = f"  target ≥ {TARGET_SINGLE_STREAM:g}× (0.6B)" if size["size"] == "0.6b" else ""
        print(
            f"{size['size']:<6} {'single stream':<22} {single['audio_seconds']:>9.1f} "
            f"{single['wall_seconds']:>8.2f} {single['x_real_time']:>9.2f}× "
            f"{_gib(single['peak_memory_bytes']):>22}{target}"
        )
        for row in size["batches"]:
            label = f"batch {row['batch']}"
            print(
                f"{size['size']:<6} {label:<22} {row['audio_seconds']:>9.1f} "
                f"{row['wall_seconds']:>8.2f} {row['audio_seconds_per_second']:>10.2f} "
                f"{_gib(row['peak_memory_bytes']):>22}"
            )
        engine = size["engine"]
        label = f"engine {engine['characters']} chars"
        print(
            f"{size['size']:<6} {label:<22} {engine['audio_seconds']:>9.1f} "
            f"{engine['wall_seconds']:>8.2f} {engine['x_real_time']:>9.2f}× "
            f"{_gib(engine['peak_memory_bytes']):>22}"
        )
        print(
            f"{'':<6} best batched {size['best_batched_audio_seconds_per_second']:.2f} audio s/s "
            f"(target ≥ {TARGET_BATCHED:g}); built {size['build_seconds']:.1f} s, "
            f"loaded {size['load_seconds']:.1f} s, voice prompt {size['prompt_seconds']:.2f} s"
        )


def _list(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        try:
            values = [kind(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from error
        if not values:
            raise argparse.ArgumentTypeError("give at least one value")
        return values

    return parse


def _size_name(text: str) -> str:
    name = text.lower()
    if name not in SIZES:
        raise ValueError(f"unknown size {text!r} (sizes: {', '.join(SIZES)})")
    return name


def _batch(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"batch sizes are positive, not {value}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.qwen_gpu", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--tiny", action="store_true", help="tiny checkpoint, a few frames (CPU)")
    parser.add_argument("--device", default="auto", help="cuda:0, cpu, … (auto: CUDA if any)")
    parser.add_argument("--sizes", type=_list(_size_name), default=list(SIZES))
    parser.add_argument("--batches", type=_list(_batch), default=[1, 4, 8, 16])
    parser.add_argument("--frames", type=int, help="frames a call (default 250, 8 with --tiny)")
    parser.add_argument("--dtype", choices=("bfloat16", "float32"))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import torch

    if args.device == "auto":
        args.device = "cuda:0" if torch.cuda.is_available() else "cpu"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: this torch ({torch.__version__}) sees no CUDA GPU")
    if not args.device.startswith("cuda") and not args.tiny:
        parser.error(
            "full-size Qwen3-TTS on a CPU would take hours: run this on a CUDA machine, "
            "or pass --tiny for the tiny checkpoint"
        )
    if args.frames is None:
        args.frames = 8 if args.tiny else 250
    if args.frames < 1:
        parser.error("--frames must be positive")
    if args.dtype is None:
        args.dtype = "bfloat16" if args.device.startswith("cuda") else "float32"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    import transformers

    # Every call would say that the (unreachable) end token also pads finished rows.
    transformers.logging.set_verbosity_error()

    dtype = getattr(torch, args.dtype)
    device = Device(args.device)
    if args.tiny:
        plan: list[tuple[str, Callable[[Path], None]]] = [("tiny", build_tiny)]
        reference = tiny_reference(seconds=2.0)
        engine_cap = tokens_for(args.frames)  # every engine call held to --frames frames
    else:
        plan = [
            (name, lambda path, size=SIZES[name]: build_checkpoint(path, size, args.device, dtype))
            for name in args.sizes
        ]
        reference = tiny_reference(seconds=10.0)  # a reference as long as users record
        engine_cap = 2048  # the engine's default bound; PacedModel holds calls to the pace
    sizes = []
    with tempfile.TemporaryDirectory(prefix="qwen-gpu-bench-") as workdir:
        for name, build in plan:
            print(f"{name}: building, loading and measuring …", file=sys.stderr, flush=True)
            sizes.append(
                measure_size(
                    name,
                    build,
                    Path(workdir),
                    device,
                    dtype,
                    args.batches,
                    args.frames,
                    reference,
                    engine_cap,
                )
            )
    result = {
        "machine": machine(),
        **device.describe(),
        "cuda": device.cuda,
        "tiny": args.tiny,
        "dtype": args.dtype,
        "frames": args.frames,
        "frame_rate": CODEC_FRAMES_PER_SECOND,
        "speaking_pace_chars_per_second": SPEAKING_PACE,
        "targets": {
            "single_stream_x_real_time_0.6b": TARGET_SINGLE_STREAM,
            "batched_audio_seconds_per_second": TARGET_BATCHED,
        },
        "sizes": sizes,
    }
    print_table(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
