"""Chunking at sentence boundaries, click-free joins and the runaway bound."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from utter.engines.base import Audio, Cancelled, JobControl
from utter.engines.join import bound_duration, crossfade_join, synthesize_chunks
from utter.engines.qwen_common import synthesize_in_groups
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
    # The first sentence alone (its audio comes first and fast), then packed windows.
    assert chunks[0] == "Sentence number 0 is here."
    assert all(len(c) > 90 for c in chunks[1:-1])


def test_an_overlong_first_sentence_is_cut_and_the_next_ones_packed() -> None:
    first = ", ".join(["a clause with several words"] * 6) + "."
    chunks = chunk_text(f"{first} Two. Three.", 80)
    assert all(len(c) <= 80 for c in chunks)
    assert chunks[-1] == "Two. Three."


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


def test_synthesize_chunks_hands_over_each_finished_chunk_in_order() -> None:
    parts: list[tuple[int, int, Audio]] = []
    progress: list[tuple[int, int]] = []
    events: list[str] = []

    def speak(chunk: str) -> np.ndarray:
        events.append(f"speak {chunk}")
        return np.full(200, 0.5 if chunk == "a." else 0.25, dtype=np.float32)

    def on_part(index: int, total: int, audio: Audio) -> None:
        events.append(f"part {index}")
        parts.append((index, total, audio))

    control = JobControl(on_progress=lambda d, t: progress.append((d, t)), on_part=on_part)
    # `finish` stands for an engine's levelling: the piece is the finished chunk.
    audio = synthesize_chunks(["a.", "b.", "c."], speak, 1000, control, finish=lambda s: s * 2)

    assert [(i, t) for i, t, _ in parts] == [(0, 3), (1, 3), (2, 3)]
    # Each piece is handed over as soon as its chunk is spoken, before the next starts.
    assert events == ["speak a.", "part 0", "speak b.", "part 1", "speak c.", "part 2"]
    assert all(a.sample_rate == 1000 for _, _, a in parts)
    assert parts[0][2].samples.max() == pytest.approx(1.0)
    assert parts[1][2].samples.max() == pytest.approx(0.5)
    assert progress == [(0, 3), (1, 3), (2, 3), (3, 3)]
    # The final clip is the pieces joined: same samples away from the seams.
    first = parts[0][2].samples
    np.testing.assert_allclose(audio.samples[50:150], first[50:150])
    assert audio.duration == pytest.approx(3 * 0.2 + 2 * 0.12, abs=0.002)


def test_a_control_without_a_listener_ignores_parts() -> None:
    JobControl().part(0, 1, Audio(np.zeros(10, dtype=np.float32), 1000))


def test_grouped_synthesis_speaks_the_first_chunk_alone_and_hands_over_every_chunk() -> None:
    groups: list[list[str]] = []
    parts: list[tuple[int, int]] = []

    def speak_group(group: Sequence[str]) -> list[np.ndarray]:
        groups.append(list(group))
        return [np.full(100, 0.1, dtype=np.float32) for _ in group]

    control = JobControl(on_part=lambda i, t, a: parts.append((i, t)))
    texts = ["a.", "b.", "c.", "d.", "e."]
    synthesize_in_groups(texts, 3, speak_group, control, sample_rate=1000)
    assert groups == [["a."], ["b.", "c.", "d."], ["e."]]
    assert parts == [(i, 5) for i in range(5)]
