"""Offline English transcription of synthesised speech, and what it refuses."""

from __future__ import annotations

import pytest

from tests.support.allison import prompt
from tests.support.audio import TEXT, encode, speech
from tests.support.wer import word_error_rate
from utter.audio import AudioError, decode
from utter.transcription import OfflineTranscriber, UnsupportedLanguageError, transcribe_english
from utter.transcription.offline import SAMPLE_RATE, EnglishRecognizer

# Measured 0.14 on this text (pocketsphinx hears "weather's", "watch", "in open for");
# the bound leaves room for other CPUs' floating point while still meaning "most words".
MAX_WER = 0.35
SENTENCE = "Please call me when you get home tonight."


def test_transcribe_english_gets_most_words_right() -> None:
    clip = speech()
    decoded = decode(clip.wav(), 16_000)

    hypothesis = transcribe_english(decoded.samples, decoded.sample_rate)

    wer = word_error_rate(TEXT, hypothesis)
    print(f"\noffline WER {wer:.3f}: {hypothesis!r}")
    assert wer <= MAX_WER


@pytest.mark.parametrize(("language", "fmt"), [("English", "webm"), ("Auto", "m4a")])
async def test_the_offline_transcriber_reads_an_upload(language: str, fmt: str) -> None:
    transcriber = OfflineTranscriber()
    upload = encode(speech(SENTENCE), fmt)

    transcript = await transcriber.transcribe(upload, f"recording.{fmt}", language)

    assert word_error_rate(SENTENCE, transcript.text) <= MAX_WER
    assert transcript.model == "pocketsphinx-en-us"
    assert transcript.language == "en"


async def test_other_languages_are_refused_before_any_work() -> None:
    transcriber = OfflineTranscriber()
    assert transcriber.supported_languages == ("Auto", "English")
    with pytest.raises(UnsupportedLanguageError) as caught:
        await transcriber.transcribe(b"anything", "a.wav", "French")
    assert caught.value.message == "Offline transcription supports English only."


async def test_an_upload_that_is_not_audio_is_an_audio_error() -> None:
    with pytest.raises(AudioError) as caught:
        await OfflineTranscriber().transcribe(b"just some text", "a.wav", "English")
    assert caught.value.reason == "not_audio"


async def test_an_upload_over_the_length_limit_is_refused() -> None:
    transcriber = OfflineTranscriber(max_seconds=1)
    with pytest.raises(AudioError) as caught:
        await transcriber.transcribe(encode(speech(SENTENCE), "mp3"), "a.mp3", "English")
    assert caught.value.reason == "too_long"


def test_the_same_clip_gives_the_same_words_whatever_was_heard_before() -> None:
    # Real speech (8 kHz telephone prompts) on which pocketsphinx's front end, when it
    # carried its state over, heard the first clip differently once the second had been
    # decoded ("…will be added at the next…" became "…added that the next…").
    first, other = (
        decode(prompt(name), SAMPLE_RATE).samples
        for name in ("queue-youarenext", "conf-waitforleader")
    )
    recognizer = EnglishRecognizer()

    before = recognizer.recognise(first, SAMPLE_RATE)
    recognizer.recognise(other, SAMPLE_RATE)
    after = recognizer.recognise(first, SAMPLE_RATE)
    again = recognizer.recognise(first, SAMPLE_RATE)
    fresh = EnglishRecognizer().recognise(first, SAMPLE_RATE)

    print(f"\n{before!r}")
    assert before  # it heard words at all
    assert after == before
    assert again == before
    assert fresh == before
