"""Text chunking (utter/engines/text.py) over many generated texts: every chunk fits the
window, and the chunks together are the text, in order, with nothing lost or repeated."""

from __future__ import annotations

import random

import pytest

from utter.engines.text import chunk_text, normalize_whitespace

WORDS = ["a", "voice", "studio", "Ünïcode", "3.14", "e.g.", "—", "word,", "yes;", "x" * 45]
ENDS = [".", "!", "?", "…", "。", '."', ""]


def _text(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(1, 12)):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30)))
        sentences.append(words + rng.choice(ENDS))
    return rng.choice([" ", "  ", "\n", " \t "]).join(sentences)


@pytest.mark.parametrize("seed", range(40))
def test_chunks_fit_the_window_and_keep_every_character_in_order(seed: int) -> None:
    rng = random.Random(seed)
    text = _text(rng)
    window = rng.choice([8, 20, 50, 120, 400])
    chunks = chunk_text(text, window)
    assert chunks and all(0 < len(c) <= window for c in chunks)
    assert "".join("".join(chunks).split()) == "".join(normalize_whitespace(text).split())


def test_the_first_sentence_is_a_chunk_of_its_own_and_the_rest_is_packed() -> None:
    text = "  Hello there.\n How are you? Fine, thanks.  "
    assert chunk_text(text, 400) == ["Hello there.", "How are you? Fine, thanks."]
    assert chunk_text("Just one sentence here.", 400) == ["Just one sentence here."]
