"""Tiny, randomly initialised Qwen3-TTS checkpoints, built on the spot for tests.

A real checkpoint is gigabytes and comes from a model hub, which tests cannot reach. These
have the same files and the same architecture as the released ones (a Qwen2 text
tokenizer, the talker with its code predictor, the ECAPA speaker encoder for `base`, and
the 12.5 Hz Mimi speech tokenizer), only a few layers of 32–64 units wide, so every code
path of `qwen-tts` — loading, prompt building, batched generation, decoding — runs in
seconds on a CPU. The weights are random: the output is quiet noise, never speech.

    build_tiny_checkpoint(directory, "base")          # what UTTER_QWEN_MODEL_DIR names
    build_tiny_checkpoint(directory, "voice_design")  # what UTTER_QWEN_DESIGN_MODEL_DIR names
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from utter.engines.base import Audio, Reference

TinyKind = Literal["base", "voice_design"]

# The languages the tiny talker knows, as the released config spells them (lower case).
# "esperanto" is one Utter's API has no name for; "sichuan_dialect" is a dialect entry,
# which qwen-tts itself leaves out of its supported languages.
LANGUAGE_IDS: dict[str, int] = {
    "english": 2050,
    "german": 2051,
    "chinese": 2052,
    "japanese": 2053,
    "french": 2054,
    "esperanto": 2055,
    "sichuan_dialect": 2056,
}

# Special token strings the qwen-tts prompt templates put into the text.
_CHAT_TOKENS = ("<|im_start|>", "<|im_end|>")
_TTS_TOKENS = ("<|tts_pad|>", "<|tts_text_bos|>", "<|tts_text_eod|>")

_WIDTH = 64  # talker hidden size
_CODEBOOKS = 16  # codec codebooks per frame, as in the 12 Hz tokenizer
_CODEBOOK_SIZE = 2048
_SAMPLE_RATE = 24_000


def _text_tokenizer() -> Any:
    """A byte-level BPE tokenizer with one token per byte and no merges: any text
    tokenizes (one token a byte), and the vocabulary stays a few hundred entries."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast

    byte_symbols = sorted(pre_tokenizers.ByteLevel.alphabet())
    core = Tokenizer(models.BPE(vocab={s: i for i, s in enumerate(byte_symbols)}, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=core,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": [*_CHAT_TOKENS, *_TTS_TOKENS]})
    return tokenizer


def _talker_config(text_vocab_size: int) -> dict[str, Any]:
    # Codec ids 0..2047 are codebook entries; the control ids above them mirror the
    # released layout (language ids, pad/bos/eos, think markers) within a 3072 vocabulary.
    return {
        "vocab_size": 3072,
        "hidden_size": _WIDTH,
        "intermediate_size": 2 * _WIDTH,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "num_code_groups": _CODEBOOKS,
        "text_hidden_size": _WIDTH,
        "text_vocab_size": text_vocab_size,
        "codec_pad_id": 2148,
        "codec_bos_id": 2149,
        "codec_eos_token_id": 2150,
        "codec_think_id": 2154,
        "codec_nothink_id": 2155,
        "codec_think_bos_id": 2156,
        "codec_think_eos_id": 2157,
        "codec_language_id": dict(LANGUAGE_IDS),
        "spk_id": {},
        "spk_is_dialect": {},
        "max_position_embeddings": 4096,
        # Multimodal RoPE split over head_dim / 2 = 8 frequencies.
        "rope_scaling": {"rope_type": "default", "mrope_section": [2, 3, 3], "interleaved": True},
        "code_predictor_config": {
            "vocab_size": _CODEBOOK_SIZE,
            "hidden_size": _WIDTH,
            "intermediate_size": 2 * _WIDTH,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "num_code_groups": _CODEBOOKS,
            "max_position_embeddings": 64,
        },
    }


# Qwen3TTSSpeakerEncoderConfig takes exactly these arguments (no **kwargs), so the saved
# config must hold nothing else.
_SPEAKER_ENCODER: dict[str, Any] = {
    "mel_dim": 128,
    "enc_dim": _WIDTH,
    "enc_channels": [32, 32, 32, 32, 96],
    "enc_kernel_sizes": [5, 3, 3, 3, 1],
    "enc_dilations": [1, 2, 3, 4, 1],
    "enc_attention_channels": 16,
    "enc_res2net_scale": 4,
    "enc_se_channels": 16,
    "sample_rate": _SAMPLE_RATE,
}

_GENERATION_DEFAULTS: dict[str, Any] = {
    "do_sample": True,
    "top_k": 50,
    "top_p": 1.0,
    "temperature": 0.9,
    "repetition_penalty": 1.05,
    "subtalker_dosample": True,
    "subtalker_top_k": 50,
    "subtalker_top_p": 1.0,
    "subtalker_temperature": 0.9,
    "max_new_tokens": 64,
}


def _save_main_model(directory: Path, kind: TinyKind, tokenizer: Any) -> None:
    from qwen_tts.core.models.configuration_qwen3_tts import Qwen3TTSConfig
    from qwen_tts.core.models.modeling_qwen3_tts import Qwen3TTSForConditionalGeneration

    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in _CHAT_TOKENS + _TTS_TOKENS}
    config = Qwen3TTSConfig(
        talker_config=_talker_config(len(tokenizer)),
        speaker_encoder_config=dict(_SPEAKER_ENCODER),
        tokenizer_type="qwen3_tts_tokenizer_12hz",
        tts_model_size="tiny",
        tts_model_type=kind,
        im_start_token_id=ids["<|im_start|>"],
        im_end_token_id=ids["<|im_end|>"],
        tts_pad_token_id=ids["<|tts_pad|>"],
        tts_bos_token_id=ids["<|tts_text_bos|>"],
        tts_eos_token_id=ids["<|tts_text_eod|>"],
    )
    config.architectures = ["Qwen3TTSForConditionalGeneration"]
    Qwen3TTSForConditionalGeneration(config).save_pretrained(directory)

    saved = json.loads((directory / "config.json").read_text())
    saved["speaker_encoder_config"] = {
        key: value
        for key, value in saved["speaker_encoder_config"].items()
        if key in _SPEAKER_ENCODER
    }
    (directory / "config.json").write_text(json.dumps(saved, indent=1))
    (directory / "generation_config.json").write_text(json.dumps(_GENERATION_DEFAULTS))
    (directory / "processor_config.json").write_text(
        json.dumps({"processor_class": "Qwen3TTSProcessor"})
    )


def _save_speech_tokenizer(directory: Path) -> None:
    """The 12.5 Hz codec: a Mimi encoder (25 Hz, halved) and a small upsampling decoder
    (8·5·4·3 · 2·2 = 1920 samples a frame at 24 kHz)."""
    import torch
    from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import (
        Qwen3TTSTokenizerV2Config,
    )
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
        Qwen3TTSTokenizerV2Model,
    )
    from transformers import EncodecFeatureExtractor

    codebook_dim = 32
    encoder = {
        "sampling_rate": _SAMPLE_RATE,
        "frame_rate": 12.5,
        "hidden_size": 32,
        "num_filters": 8,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "head_dim": 8,
        "intermediate_size": 64,
        "sliding_window": 64,
        "upsampling_ratios": [8, 6, 5, 4],
        "codebook_size": _CODEBOOK_SIZE,
        "codebook_dim": codebook_dim,
        "num_quantizers": _CODEBOOKS,
        "num_semantic_quantizers": 1,
        # A narrow Mimi needs its grouped upsampling and quantizer projection to match
        # its width; the defaults assume the released 512-wide encoder.
        "upsample_groups": 32,
        "vector_quantization_hidden_dimension": codebook_dim,
    }
    decoder = {
        "codebook_size": _CODEBOOK_SIZE,
        "codebook_dim": codebook_dim,  # has no default
        "num_quantizers": _CODEBOOKS,
        "hidden_size": 32,
        "latent_dim": 32,
        "decoder_dim": 64,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "head_dim": 8,
        "sliding_window": 16,
        "upsample_rates": [8, 5, 4, 3],
        "upsampling_ratios": [2, 2],
    }
    config = Qwen3TTSTokenizerV2Config(
        encoder_config=encoder, decoder_config=decoder, encoder_valid_num_quantizers=_CODEBOOKS
    )
    config.architectures = ["Qwen3TTSTokenizerV2Model"]
    model = Qwen3TTSTokenizerV2Model(config)
    # Codebooks start as zeros (they are learnt by running averages), which would decode
    # every code to the same constant; random entries make the output varying noise.
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            if name.endswith(("embedding_sum", "embed_sum")):
                tensor.normal_()
    model.save_pretrained(directory)
    EncodecFeatureExtractor(
        feature_size=1, sampling_rate=_SAMPLE_RATE, padding_value=0.0, return_attention_mask=True
    ).save_pretrained(directory)


@dataclass(frozen=True)
class TinyQwen:
    """A pair of tiny checkpoints, as the settings would name them."""

    base: Path  # UTTER_QWEN_MODEL_DIR
    voice_design: Path  # UTTER_QWEN_DESIGN_MODEL_DIR


def build_tiny_checkpoint(directory: Path, kind: TinyKind, *, seed: int = 0) -> Path:
    """Write a tiny random `base` or `voice_design` checkpoint into `directory` (created;
    must be empty or absent) and return it. No network; about a second or two on a CPU."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty")
    torch.manual_seed(seed)
    tokenizer = _text_tokenizer()
    _save_main_model(directory, kind, tokenizer)
    tokenizer.save_pretrained(directory)
    _save_speech_tokenizer(directory / "speech_tokenizer")
    return directory


def tiny_reference(
    voice_id: str = "voice-1", *, seconds: float = 2.0, pitch: float = 140.0
) -> Reference:
    """A reference as a worker hands one to an engine: a 24 kHz mono float32 clip (a
    voiced tone with a little noise) and its transcript."""
    rate = _SAMPLE_RATE
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    tone = 0.3 * np.sin(2 * np.pi * pitch * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    noise = np.random.default_rng(7).normal(0.0, 0.01, t.size)
    return Reference(
        voice_id=voice_id,
        audio=Audio((tone + noise).astype(np.float32), rate),
        transcript="This is my voice, recorded for cloning.",
        language="English",
    )
