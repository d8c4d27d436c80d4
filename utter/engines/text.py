"""Splitting long text into chunks an engine can speak, at sentence boundaries.

Engines have a window: past a few hundred characters their prosody drifts or
they stop early. Text is cut into sentences (Latin and CJK punctuation), and
sentences are packed greedily into chunks of at most `max_chars`, except the first
sentence, which is a chunk of its own: it is spoken first and alone, so the first
piece of audio is ready after one short sentence, not after a full window. A sentence
longer than the window is cut at clause punctuation, then at spaces, and only
as a last resort inside a word.
"""

from __future__ import annotations

import re

# A sentence ends at . ! ? … plus any closing quotes or brackets, before a space
# (so "3.14" and "e.g.x" are not ends); CJK full stops need no following space.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)|[。！？]+[\"'”’」』）)\]]*")
_CLAUSE_END = re.compile(r"(?<=[,;:，；：、—–])\s*")
_SPACE = re.compile(r"\s+")


def normalize_whitespace(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def split_sentences(text: str) -> list[str]:
    text = normalize_whitespace(text)
    sentences: list[str] = []
    start = 0
    for end in _SENTENCE_END.finditer(text):
        sentence = text[start : end.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = end.end()
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """Cut one over-long sentence into pieces of at most max_chars."""
    pieces: list[str] = []
    for pattern in (_CLAUSE_END, _SPACE):
        parts = [p for p in pattern.split(sentence) if p]
        if len(parts) > 1:
            joiner = " "
            current = ""
            for part in parts:
                candidate = f"{current}{joiner}{part}" if current else part
                if len(candidate) <= max_chars:
                    current = candidate
                    continue
                if current:
                    pieces.append(current)
                if len(part) > max_chars:
                    pieces.extend(_split_long(part, max_chars))
                    current = ""
                else:
                    current = part
            if current:
                pieces.append(current)
            return pieces
    # One unbroken run (e.g. CJK without punctuation): cut it evenly.
    return [sentence[i : i + max_chars] for i in range(0, len(sentence), max_chars)]


def chunk_text(text: str, max_chars: int) -> list[str]:
    """The first sentence alone, then the rest packed into chunks of at most `max_chars`
    characters, in order."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    chunks: list[str] = []
    current = ""
    for number, sentence in enumerate(split_sentences(text)):
        if len(sentence) > max_chars:
            if current:
                chunks.append(current)
                current = ""
            chunks.extend(_split_long(sentence, max_chars))
            continue
        candidate = f"{current} {sentence}" if current else sentence
        if len(candidate) <= max_chars:
            current = candidate
        else:
            chunks.append(current)
            current = sentence
        if number == 0:
            # Nothing joins the first sentence: its piece comes as soon as it is spoken.
            chunks.append(current)
            current = ""
    if current:
        chunks.append(current)
    return chunks


# Speech runs at roughly 12–18 characters a second in alphabetic scripts and 4–6 in
# CJK; 0.35 s per character plus a few seconds covers slow speech in either, and
# stops a model that fails to emit its end token from talking for minutes.
SECONDS_PER_CHAR_CAP = 0.35
SECONDS_CAP_FLOOR = 5.0


def max_duration_seconds(text: str) -> float:
    """The longest audio a text of this length may plausibly need."""
    return SECONDS_CAP_FLOOR + SECONDS_PER_CHAR_CAP * len(normalize_whitespace(text))
