"""Chunking at sentence boundaries, click-free joins and the runaway bound."""

from __future__ import annotations

import numpy as np
import pytest

from utter.engines.base import Cancelled, JobControl
from utter.engines.join import bound_duration, crossfade_join, synthesize_chunks
from utter.engines.text import chunk_text, max_duration_seconds, split_sentences


def test_sentences_split_at_latin_and_cjk_punctuation() -> None:
    assert split_sentences("Hello there.  How are you? Fine!") == [
        "Hello there.",
        "How are you?",
        "Fine!",
    ]
    assert split_sentences("你好。今天天气很好！我们走吧") == [
        "你好。",
        "今天天气很好！",
        "我们走吧",
    ]
    assert split_sentences('He said "stop." Then left.') == ['He said "stop."', "Then left."]
    assert split_sentences("   ") == []


def test_chunks_pack_sentences_and_never_exceed_the_window() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(60))
    chunks = chunk_text(text, 120)
    assert all(len(c) <= 120 for c in chunks)
    assert all(c.endswith(".") for c in chunks)  # cut only at sentence ends
    assert " ".join(chunks) == text


def test_an_overlong_sentence_is_cut_at_clauses_then_words() -> None:
    sentence = ", ".join(["a clause with several words"] * 12) + "."
    chunks = chunk_text(sentence, 80)
    assert all(len(c) <= 80 for c in chunks)
    assert " ".join(chunks).replace(" ", "") == sentence.replace(" ", "")
    unbroken = "x" * 250
    assert chunk_text(unbroken, 100) == ["x" * 100, "x" * 100, "x" * 50]


def test_chunking_rejects_a_zero_window() -> None:
    with pytest.raises(ValueError, match="positive"):
        chunk_text("hi", 0)


def test_crossfade_join_has_no_discontinuity_at_the_seams() -> None:
    sr = 24000
    t = np.arange(sr // 2) / sr
    # Chunks that end and start at full amplitude would click if butted together.
    loud = (0.9 * np.sign(np.sin(2 * np.pi * 220 * t))).astype(np.float32)
    joined = crossfade_join([loud, loud, loud], sr)
    assert len(joined) > 3 * len(loud)
    assert np.max(np.abs(np.diff(joined))) <= np.max(np.abs(np.diff(loud))) + 1e-6
    # The seams fade to silence rather than jump.
    seam = len(loud)
    assert abs(joined[seam - 1]) < 0.01


def test_bound_duration_cuts_runaway_audio_only() -> None:
    sr = 1000
    text = "Short text."
    limit = max_duration_seconds(text)
    ok = np.ones(int(limit * sr) - 10, dtype=np.float32)
    assert len(bound_duration(ok, sr, text)) == len(ok)
    runaway = np.ones(int(limit * sr) * 5, dtype=np.float32)
    cut = bound_duration(runaway, sr, text)
    assert len(cut) == int(limit * sr)
    assert cut[-1] == 0.0


def test_synthesize_chunks_reports_progress_and_stops_when_cancelled() -> None:
    seen: list[tuple[int, int]] = []
    spoken: list[str] = []

    def speak(chunk: str) -> np.ndarray:
        spoken.append(chunk)
        return np.zeros(100, dtype=np.float32)

    control = JobControl(
        is_cancelled=lambda: len(spoken) >= 2, on_progress=lambda d, t: seen.append((d, t))
    )
    with pytest.raises(Cancelled):
        synthesize_chunks(["a.", "b.", "c.", "d."], speak, 1000, control)
    assert spoken == ["a.", "b."]
    assert seen == [(0, 4), (1, 4), (2, 4)]
