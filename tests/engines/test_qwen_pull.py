"""`utter models pull qwen`: the real CLI and huggingface_hub download code, against a local
server that speaks the hub's protocol and serves tiny Qwen3-TTS checkpoints under the
released repos' names; then the `qwen` engine, with no checkpoint setting, loads what was
pulled and speaks with it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.support.hub import Hub, repo_files, run_pull, serve_hub
from tests.support.qwen_tiny import TinyQwen, tiny_reference
from tests.support.server import app_settings
from utter.engines.base import JobControl
from utter.engines.qwen import QwenEngine, QwenModelError

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("torch_single_thread")]

BASE_17 = "Qwen/Qwen3-TTS-12Hz-1.7B-Base"
BASE_06 = "Qwen/Qwen3-TTS-12Hz-0.6B-Base"
DESIGN = "Qwen/Qwen3-TTS-12Hz-1.7B-VoiceDesign"
WEIGHTS = "model.safetensors"


@pytest.fixture
def repos(tiny_qwen: TinyQwen) -> dict[str, dict[str, bytes]]:
    """The 1.7B Base and VoiceDesign repos, each with a README that is not the model's."""
    base = repo_files(tiny_qwen.base)
    design = repo_files(tiny_qwen.voice_design)
    for files in (base, design):
        files["README.md"] = b"# model card\n"
    return {BASE_17: base, DESIGN: design}


@pytest.fixture
def hub(repos: dict[str, dict[str, bytes]]) -> Iterator[Hub]:
    with serve_hub(repos) as hub:
        yield hub


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def engine_for(data_dir: Path) -> QwenEngine:
    """The engine as a worker builds it from the settings: no UTTER_QWEN_*_MODEL_DIR."""
    settings = app_settings(data_dir, engine="qwen", qwen_device="cpu", qwen_max_new_tokens=16)
    assert settings.qwen_model_dir is None and settings.qwen_design_model_dir is None
    return QwenEngine.from_settings(settings)


def assert_same_files(directory: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        if name == "README.md":
            assert not (directory / name).exists()  # only what the model needs
        else:
            assert (directory / name).read_bytes() == content, name


def assert_one_line_error(stderr: str, start: str) -> None:
    assert stderr.startswith(f"utter models pull: {start}"), stderr
    assert stderr.count("\n") == 1, stderr  # one line, no traceback, no progress bars


def test_pulled_checkpoints_are_what_the_qwen_engine_loads_and_speaks_with(
    hub: Hub, repos: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"

    done = run_pull(hub.url, tmp_path / "hf", "qwen", "--design", "--data-dir", str(data_dir))

    assert done.returncode == 0, done.stderr
    base = data_dir / "models" / "qwen3-tts-1.7b-base"
    design = data_dir / "models" / "qwen3-tts-1.7b-voicedesign"
    assert f"Qwen3-TTS 1.7b Base is in {base}" in done.stdout
    assert f"Qwen3-TTS 1.7b VoiceDesign is in {design}" in done.stdout
    # Both came through HF_ENDPOINT, from the released repos' names, the speech
    # tokenizer (a subfolder of each repo) included.
    assert hub.gets(BASE_17, WEIGHTS) == [""]
    assert hub.gets(BASE_17, "speech_tokenizer/model.safetensors") == [""]
    assert hub.gets(DESIGN, WEIGHTS) == [""]
    assert_same_files(base, repos[BASE_17])
    assert_same_files(design, repos[DESIGN])
    assert sorted(path.name for path in (data_dir / "models").iterdir()) == [
        "qwen3-tts-1.7b-base",
        "qwen3-tts-1.7b-voicedesign",
    ]

    # Pulling again, with the hub at the same revision, only reads the listings.
    before = len(hub.requests)
    again = run_pull(hub.url, tmp_path / "hf", "qwen", "--design", "--data-dir", str(data_dir))
    assert again.returncode == 0, again.stderr
    assert f"Qwen3-TTS 1.7b Base is in {base}" in again.stdout
    assert hub.requests[before:] == [
        ("GET", f"/api/models/{BASE_17}/revision/main", ""),
        ("GET", f"/api/models/{DESIGN}/revision/main", ""),
    ]

    # A new revision on the hub replaces the checkpoint, whole.
    repos[BASE_17]["generation_config.json"] = b'{"max_new_tokens": 32}'
    hub.commit = "f" * 40
    newer = run_pull(hub.url, tmp_path / "hf", "qwen", "--data-dir", str(data_dir))
    assert newer.returncode == 0, newer.stderr
    assert_same_files(base, repos[BASE_17])
    assert not (data_dir / "models" / "qwen3-tts-1.7b-base.partial").exists()

    engine = engine_for(data_dir)
    assert engine._clone.path == base
    assert engine._design is not None and engine._design.path == design
    capabilities = engine.capabilities()
    assert capabilities.clone and capabilities.design
    for audio in (
        engine.generate("Hello there.", "English", tiny_reference(), JobControl()),
        engine.design("Hello there.", "English", "A calm, low voice.", JobControl()),
    ):
        assert audio.sample_rate == 24_000
        assert audio.samples.size > 0
        assert np.isfinite(audio.samples).all()
        assert np.abs(audio.samples).max() > 0
    engine.close()


def test_a_download_cut_off_half_way_is_not_used_and_resumes_where_it_stopped(
    hub: Hub, repos: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    size = len(repos[BASE_17][WEIGHTS])
    cut = 12 * 1024 * 1024
    assert size > cut  # the tiny talker's weights are about 18 MB
    hub.cut[WEIGHTS] = cut

    first = run_pull(hub.url, tmp_path / "hf", "qwen", "--data-dir", str(data_dir))

    assert first.returncode == 1
    assert_one_line_error(first.stderr.splitlines()[-1] + "\n", f"Could not fetch {BASE_17}")
    target = data_dir / "models" / "qwen3-tts-1.7b-base"
    assert not target.exists()
    assert (data_dir / "models" / "qwen3-tts-1.7b-base.partial").is_dir()
    # The engine does not take the half download for a checkpoint.
    with pytest.raises(QwenModelError, match="UTTER_QWEN_MODEL_DIR is not set"):
        engine_for(data_dir)

    # With the hub out of reach, a pull fails in one line and the half download still
    # does not pass for a checkpoint.
    nowhere = closed_port_url()
    offline = run_pull(nowhere, tmp_path / "hf", "qwen", "--data-dir", str(data_dir))
    assert offline.returncode == 1
    assert_one_line_error(offline.stderr, f"Could not fetch {BASE_17} from {nowhere}: Connection")
    assert not target.exists()

    second = run_pull(hub.url, tmp_path / "hf", "qwen", "--data-dir", str(data_dir))

    assert second.returncode == 0, second.stderr
    first_get, resumed = hub.gets(BASE_17, WEIGHTS)
    assert first_get == ""
    assert resumed.startswith("bytes=") and resumed.endswith("-"), resumed
    kept = int(resumed.removeprefix("bytes=").removesuffix("-"))
    print(f"\ncut at {cut} of {size} bytes; resumed from {kept}")
    assert 0 < kept <= cut
    # What was kept was not sent again.
    assert hub.sent[WEIGHTS] == cut + size - kept
    assert_same_files(target, repos[BASE_17])
    assert not (data_dir / "models" / "qwen3-tts-1.7b-base.partial").exists()
    assert engine_for(data_dir)._clone.path == target


def test_an_unknown_size_a_missing_repo_a_wrong_checkpoint_or_no_room_fails_and_leaves_none(
    hub: Hub, repos: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    models = data_dir / "models"

    unknown = run_pull(
        hub.url, tmp_path / "hf", "qwen", "--size", "3b", "--data-dir", str(data_dir)
    )
    assert unknown.returncode == 1
    assert unknown.stderr == "utter models pull: Qwen3-TTS comes in 1.7b, 0.6b, not 3b.\n"

    missing = run_pull(
        hub.url, tmp_path / "hf", "qwen", "--size", "0.6b", "--data-dir", str(data_dir)
    )
    assert missing.returncode == 1
    assert_one_line_error(
        missing.stderr, f"Could not fetch {BASE_06} from {hub.url}: RepositoryNotFoundError"
    )
    assert not (models / "qwen3-tts-0.6b-base").exists()

    # A repo by the Base name that holds a VoiceDesign checkpoint is refused whole.
    repos[BASE_06] = repos[DESIGN]
    wrong = run_pull(
        hub.url, tmp_path / "hf", "qwen", "--size", "0.6b", "--data-dir", str(data_dir)
    )
    assert wrong.returncode == 1
    assert_one_line_error(
        wrong.stderr.splitlines()[-1] + "\n",
        f"{BASE_06} holds a 'voice_design' checkpoint, not a Base one",
    )
    assert not (models / "qwen3-tts-0.6b-base").exists()
    with pytest.raises(QwenModelError, match="UTTER_QWEN_MODEL_DIR is not set"):
        engine_for(data_dir)

    # A checkpoint bigger than the free space is refused before anything is fetched.
    hub.listed_size[WEIGHTS] = 10**18
    full = run_pull(hub.url, tmp_path / "hf", "qwen", "--data-dir", str(data_dir))
    assert full.returncode == 1
    assert_one_line_error(full.stderr, f"Not enough disk space for {BASE_17} in {data_dir}")
    assert "it needs 1000000000.0 GB" in full.stderr
    assert hub.gets(BASE_17, WEIGHTS) == []
    assert not (models / "qwen3-tts-1.7b-base").exists()


def test_with_both_sizes_pulled_the_engine_takes_the_larger_and_the_pull_says_so(
    hub: Hub, repos: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    repos[BASE_06] = repos[BASE_17]
    small = data_dir / "models" / "qwen3-tts-0.6b-base"
    large = data_dir / "models" / "qwen3-tts-1.7b-base"

    def pull(size: str) -> str:
        done = run_pull(
            hub.url, tmp_path / "hf", "qwen", "--size", size, "--data-dir", str(data_dir)
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f"{small}; the qwen engine clones with it" in pull("0.6b")
    assert engine_for(data_dir)._clone.path == small
    assert f"{large}; the qwen engine clones with it" in pull("1.7b")
    assert engine_for(data_dir)._clone.path == large
    # Already there: nothing fetched, and the setting that would choose it is named.
    assert (
        f"{small}; the qwen engine takes {large} first: set UTTER_QWEN_MODEL_DIR={small} "
        "for this one." in pull("0.6b")
    )
    assert hub.gets(BASE_06, WEIGHTS) == [""]
