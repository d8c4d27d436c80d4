"""The word error rate helper the speech tests rely on."""

from __future__ import annotations

import pytest

from tests.support.wer import word_error_rate, words


def test_words_ignore_case_and_punctuation() -> None:
    assert words("The park, after LUNCH! Don't.") == ["the", "park", "after", "lunch", "don't"]


@pytest.mark.parametrize(
    ("reference", "hypothesis", "wer"),
    [
        ("the cat sat", "the cat sat", 0.0),
        ("the cat sat", "the cat", 1 / 3),  # a deletion
        ("the cat sat", "the bat sat", 1 / 3),  # a substitution
        ("the cat sat", "the cat sat down", 1 / 3),  # an insertion
        ("the cat sat", "", 1.0),
        ("weather is nice", "weather's nice", 2 / 3),
        ("", "", 0.0),
    ],
)
def test_word_error_rate(reference: str, hypothesis: str, wer: float) -> None:
    assert word_error_rate(reference, hypothesis) == pytest.approx(wer)
