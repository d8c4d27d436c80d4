"""The built-in voices behind OpenAI's stock voice names (`alloy`, `ash`, … `verse`), so a
client written for OpenAI's speech API works unchanged against Utter.

Each is a short reference clip with its transcript, shipped in `stock_voices/` (made
offline by scripts/make_stock_voices.py) and cloned by whatever engine is configured, like
any saved voice. They are no rows of the database: a generation in one names it in
`generations.stock_voice`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import numpy as np

from utter.engines.base import Audio, Reference

# OpenAI's names, in its documentation's order.
STOCK_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
)
# Engines take references at this rate (what a saved voice's normalised reference is).
REFERENCE_RATE = 24_000


def stock_name(voice: str) -> str | None:
    """The stock voice `voice` names (OpenAI's names, any case), or None."""
    name = voice.strip().lower()
    return name if name in STOCK_VOICES else None


@cache
def _index() -> dict[str, dict[str, str]]:
    text = resources.files(__package__).joinpath("stock_voices", "voices.json").read_text()
    index: dict[str, dict[str, str]] = json.loads(text)
    return index


@cache
def stock_reference(name: str) -> Reference:
    """The reference of the stock voice `name` (one of STOCK_VOICES) as an engine takes it:
    24 kHz mono float32 with its transcript. Read once per process."""
    import soundfile as sf  # here: the API names stock voices, only workers read them
    import soxr

    if name not in STOCK_VOICES:
        raise KeyError(name)
    entry = _index()[name]
    path = resources.files(__package__).joinpath("stock_voices", entry["file"])
    with path.open("rb") as handle:
        samples, rate = sf.read(handle, dtype="float32", always_2d=False)
    if rate != REFERENCE_RATE:
        samples = soxr.resample(samples, rate, REFERENCE_RATE)
    audio = Audio(np.ascontiguousarray(samples, dtype=np.float32), REFERENCE_RATE)
    return Reference(
        voice_id=f"stock:{name}", audio=audio, transcript=entry["transcript"], language="English"
    )
