"""What the two Qwen3-TTS engines share: languages, the token bound and batched chunks.

`qwen` runs the model in this process and `modal` runs it on Modal's GPUs; both split
long text the same way, ask the model for no more codec tokens than the text could need,
and batch several chunks into one model call. Nothing here imports torch or modal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from utter.engines.base import Audio, JobControl, Samples
from utter.engines.join import bound_duration, crossfade_join
from utter.engines.text import max_duration_seconds
from utter.languages import AUTO, CODES

SAMPLE_RATE = 24_000
# The 12 Hz speech tokenizer emits 12.5 codec frames a second of audio; one generated
# token is one frame.
CODEC_FRAMES_PER_SECOND = 12.5

# What the released Base and VoiceDesign checkpoints (0.6B and 1.7B) accept, by the
# model card and `get_supported_languages()`; used where the model is remote and cannot
# be asked cheaply. The local engine asks its checkpoint instead.
QWEN_LANGUAGES: tuple[str, ...] = (
    AUTO,
    "English",
    "Chinese",
    "Japanese",
    "Korean",
    "French",
    "German",
    "Spanish",
    "Italian",
    "Portuguese",
    "Russian",
)

# Chunks of this many characters keep Qwen3-TTS's prosody steady; longer ones drift.
DEFAULT_MAX_CHUNK_CHARS = 400


def api_languages(model_languages: Iterable[str]) -> tuple[str, ...]:
    """The API names (in the API's order, "Auto" first) of the languages a checkpoint
    names in lower case. Languages the API has no name for are left out: users could not
    pick them, and nothing the model rejects is ever offered."""
    known = {name.lower() for name in model_languages}
    names = [name for name in CODES if name.lower() in known]
    return (AUTO, *names) if AUTO.lower() in known else tuple(names)


def max_new_tokens_for(texts: Sequence[str], cap: int) -> int:
    """Codec tokens enough for the longest text in a batch at its slowest plausible pace,
    never more than `cap`: a model that misses its end token stops there instead of
    talking for minutes (the per-chunk audio is also cut by `bound_duration`)."""
    longest = max((max_duration_seconds(text) for text in texts), default=0.0)
    return max(1, min(cap, math.ceil(longest * CODEC_FRAMES_PER_SECOND)))


def synthesize_in_groups(
    chunks: Sequence[str],
    group_size: int,
    speak_group: Callable[[Sequence[str]], Sequence[Samples]],
    control: JobControl,
    sample_rate: int = SAMPLE_RATE,
) -> Audio:
    """Speak chunks `group_size` at a time (one batched model call per group), checking
    for cancellation before each group, bounding each chunk's length, handing each chunk
    to `control.part` and reporting progress after each group, then join them with
    crossfades.

    One call for the whole text would use the GPU best, but could not be stopped and
    would report no progress until the end; one call per chunk would waste the batch.
    Groups keep a cancel within one group's time and progress moving. The first chunk
    (the text's first sentence) is a group of its own, so its piece is heard after one
    sentence's time rather than a whole batch's."""
    if group_size < 1:
        raise ValueError("group_size must be positive")
    total = len(chunks)
    control.progress(0, total)
    parts: list[Samples] = []
    start = 0
    while start < total:
        control.check()
        end = 1 if start == 0 else min(total, start + group_size)
        group = chunks[start:end]
        spoken = speak_group(group)
        if len(spoken) != len(group):
            raise RuntimeError(f"The model returned {len(spoken)} clips for {len(group)} texts.")
        for samples, text in zip(spoken, group, strict=True):
            bounded = bound_duration(samples, sample_rate, text)
            control.part(len(parts), total, Audio(bounded, sample_rate))
            parts.append(bounded)
        control.progress(len(parts), total)
        start = end
    return Audio(crossfade_join(parts, sample_rate), sample_rate)
