"""The `modal` engine against a stand-in for Modal's cloud, and the deployable app.

Modal cannot be reached from here, so the fake sits exactly at the SDK boundary: it
stands in for `modal.Cls.from_name(app, cls)`, and the objects it hands back behave like
the SDK's (`.spawn()` returns a call whose `.get(timeout=…)` raises TimeoutError while the
work runs, returns its result when done, re-raises a remote exception, and records
`.cancel()`). The remote work is the real `modal_app.service.QwenService` on a tiny
checkpoint, and arguments and results cross the boundary pickled, as they do on Modal.
Everything on the engine's side — spawning, polling, cancelling, decoding, joining — is
the real code.
"""

from __future__ import annotations

import inspect
import io
import pickle
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import modal
import numpy as np
import pytest
import soundfile as sf

from tests.support.qwen_tiny import TinyQwen, tiny_reference
from utter.engines.base import Cancelled, JobControl, UnsupportedLanguage
from utter.engines.modal import ModalCallError, ModalEngine
from utter.engines.qwen_common import CODEC_FRAMES_PER_SECOND, QWEN_LANGUAGES
from utter.engines.text import chunk_text
from utter.settings import Settings

pytestmark = pytest.mark.usefixtures("torch_single_thread")

APP = "utter-qwen3-tts"
LONG_TEXT = (
    "The quick brown fox jumps over the dog. "
    "A second sentence follows the first one. "
    "Then a third one arrives, right on time. "
    "The fourth sentence is nearly the last. "
    "And this fifth sentence ends the text."
)


class FakeFunctionCall:
    """Stands in for `modal.FunctionCall`: the work runs in the "container" thread."""

    def __init__(self, future: Future[Any], method: str, arguments: dict[str, Any]) -> None:
        self._future = future
        self.method = method
        self.arguments = arguments
        self.polls = 0
        self.cancelled = threading.Event()

    def get(self, timeout: float | None = None) -> Any:
        self.polls += 1
        try:
            result = self._future.result(timeout=timeout)
        except TimeoutError:
            raise TimeoutError() from None  # what the SDK raises while a call still runs
        return pickle.loads(pickle.dumps(result))  # noqa: S301 (our own bytes, as Modal does)

    def cancel(self, terminate_containers: bool = False) -> None:
        self.cancelled.set()
        self._future.cancel()


class FakeMethod:
    def __init__(self, container: FakeContainer, name: str) -> None:
        self._container = container
        self._name = name

    def spawn(self, *args: Any, **kwargs: Any) -> FakeFunctionCall:
        if self._container.cloud.unreachable:
            raise modal.exception.NotFoundError(
                f"Lookup failed for Cls '{self._container.class_name}' from the '{APP}' app"
            )
        # Modal pickles the arguments to send them; so does the fake.
        args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))  # noqa: S301 (our own bytes)
        container, name = self._container, self._name

        def run() -> Any:  # on the "container": its service loads there, on first input
            return getattr(container.service(), name)(*args, **kwargs)

        future = container.cloud.executor.submit(run)
        call = FakeFunctionCall(future, self._name, kwargs)
        self._container.cloud.calls.append(call)
        return call


class FakeContainer:
    """What `modal.Cls.from_name(app, cls)()` returns: method handles with `.spawn`. The
    service is loaded once, on first use, as `@modal.enter` does in a container."""

    def __init__(self, cloud: FakeModal, class_name: str) -> None:
        self.cloud = cloud
        self.class_name = class_name
        self._service: Any = None
        self._lock = threading.Lock()

    def service(self) -> Any:
        with self._lock:
            if self._service is None:
                self._service = self.cloud.services[self.class_name]()
                self.cloud.loads += 1
            return self._service

    def __getattr__(self, name: str) -> FakeMethod:
        if name not in self.cloud.methods[self.class_name]:
            raise AttributeError(name)
        return FakeMethod(self, name)


# The methods each deployed class exposes, as modal_app/app.py defines them (checked below).
APP_METHODS = {"QwenClone": {"clone", "languages"}, "QwenDesign": {"design", "languages"}}


class FakeModal:
    """The deployed app as the engine's lookup sees it; `services` load each class's
    service (what `@modal.enter` does in a real container)."""

    def __init__(self, services: dict[str, Callable[[], Any]]) -> None:
        self.services = services
        self.methods = APP_METHODS
        self.executor = ThreadPoolExecutor(max_workers=2)
        self.calls: list[FakeFunctionCall] = []
        self.loads = 0
        self.unreachable = False

    def lookup(self, app_name: str, class_name: str) -> Callable[[], FakeContainer]:
        assert app_name == APP
        return lambda: FakeContainer(self, class_name)


@pytest.fixture(scope="module")
def services(tiny_qwen: TinyQwen) -> dict[str, Callable[[], Any]]:
    """The real serving code on the tiny checkpoints, loaded once per test module."""
    from modal_app.service import QwenService

    loaded: dict[str, Any] = {}

    def load(name: str, directory: Any, kind: str) -> Callable[[], Any]:
        def factory() -> Any:
            if name not in loaded:
                loaded[name] = QwenService.load(directory, kind, device="cpu")
            return loaded[name]

        return factory

    return {
        "QwenClone": load("QwenClone", tiny_qwen.base, "base"),
        "QwenDesign": load("QwenDesign", tiny_qwen.voice_design, "voice_design"),
    }


@pytest.fixture
def cloud(services: dict[str, Callable[[], Any]]) -> Iterator[FakeModal]:
    fake = FakeModal(services)
    yield fake
    fake.executor.shutdown(wait=True)


def engine_for(cloud: FakeModal, **options: Any) -> ModalEngine:
    defaults: dict[str, Any] = {
        "app_name": APP,
        "lookup": cloud.lookup,
        "poll_seconds": 0.05,
        "max_chunk_chars": 60,
        "batch_size": 2,
        "max_new_tokens": 8,
    }
    return ModalEngine(**(defaults | options))


def test_generate_spawns_one_call_per_batch_and_joins_the_clips(cloud: FakeModal) -> None:
    engine = engine_for(cloud)
    voice = tiny_reference()
    progress: list[tuple[int, int]] = []
    chunks = chunk_text(LONG_TEXT, 60)

    audio = engine.generate(
        LONG_TEXT, "English", voice, JobControl(on_progress=lambda d, t: progress.append((d, t)))
    )

    assert [call.method for call in cloud.calls] == ["clone"] * 3
    assert [call.arguments["texts"] for call in cloud.calls] == [
        chunks[0:1],
        chunks[1:3],
        chunks[3:5],
    ]
    first = cloud.calls[0].arguments
    assert first["language"] == "English"
    assert first["ref_text"] == voice.transcript
    assert first["max_new_tokens"] == 8
    sent, rate = sf.read(io.BytesIO(first["ref_audio"]), dtype="float32")
    assert rate == voice.audio.sample_rate
    assert len(sent) == len(voice.audio.samples)
    assert np.abs(sent - voice.audio.samples).max() < 1e-3  # PCM16 of the same clip
    assert all(call.polls >= 1 for call in cloud.calls)
    assert progress == [(0, 5), (1, 5), (3, 5), (5, 5)]

    assert audio.sample_rate == 24_000
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert 0 < audio.duration <= 5 * 8 / CODEC_FRAMES_PER_SECOND + 4 * 0.12 + 0.01
    assert cloud.loads == 1  # one container served every batch


def test_cancel_during_a_batch_cancels_the_modal_call(cloud: FakeModal) -> None:
    engine = engine_for(cloud)
    # The user cancels while the second batch runs on Modal (it has been polled once).
    control = JobControl(is_cancelled=lambda: len(cloud.calls) >= 2 and cloud.calls[1].polls >= 1)

    with pytest.raises(Cancelled):
        engine.generate(LONG_TEXT, "English", tiny_reference(), control)

    assert len(cloud.calls) == 2  # the third batch was never sent
    assert not cloud.calls[0].cancelled.is_set()  # it had finished
    assert cloud.calls[1].cancelled.is_set()


def test_a_remote_failure_is_a_clear_error(cloud: FakeModal) -> None:
    # Korean is a Qwen3-TTS language, so the engine sends it; this deployment's (tiny)
    # checkpoint does not know it, and the remote service refuses by name.
    engine = engine_for(cloud)
    assert "Korean" in engine.capabilities().languages
    with pytest.raises(ModalCallError, match=r"QwenClone\.clone failed on Modal.*'Korean'"):
        engine.generate("Annyeong.", "Korean", tiny_reference(), JobControl())
    with pytest.raises(UnsupportedLanguage):
        engine.generate("Hallo.", "Dutch", tiny_reference(), JobControl())


def test_a_container_without_its_checkpoint_fails_every_call_clearly(tmp_path: Path) -> None:
    from modal_app.service import QwenService

    # The volume was never filled: `@modal.enter` fails, and so does each input.
    cloud = FakeModal({"QwenClone": lambda: QwenService.load(tmp_path / "missing", "base")})
    try:
        with pytest.raises(ModalCallError, match=r"download_models\.py"):
            engine_for(cloud).generate("Hello.", "English", tiny_reference(), JobControl())
    finally:
        cloud.executor.shutdown(wait=True)


def test_an_unreachable_app_is_a_clear_error(cloud: FakeModal) -> None:
    cloud.unreachable = True
    with pytest.raises(ModalCallError, match="is the app deployed"):
        engine_for(cloud).generate("Hello.", "English", tiny_reference(), JobControl())


def test_a_call_that_never_finishes_is_cancelled_at_the_timeout() -> None:
    release = threading.Event()

    class Stuck:
        def clone(self, **_: Any) -> list[bytes]:
            release.wait(10)
            return []

    cloud = FakeModal({"QwenClone": Stuck})
    try:
        engine = engine_for(cloud, call_timeout_seconds=0.3)
        with pytest.raises(ModalCallError, match=r"did not finish within 0\.3 s"):
            engine.generate("Hello.", "English", tiny_reference(), JobControl())
        assert cloud.calls[0].cancelled.is_set()
        assert cloud.calls[0].polls >= 2
    finally:
        release.set()
        cloud.executor.shutdown(wait=True)


def test_a_malformed_result_is_a_clear_error() -> None:
    class Wrong:
        def clone(self, texts: list[str], **_: Any) -> list[bytes]:
            return [b"not audio"] * len(texts)

    cloud = FakeModal({"QwenClone": Wrong})
    try:
        with pytest.raises(ModalCallError, match="unreadable audio"):
            engine_for(cloud).generate("Hello.", "English", tiny_reference(), JobControl())
    finally:
        cloud.executor.shutdown(wait=True)


def test_design_runs_on_the_design_class(cloud: FakeModal) -> None:
    audio = engine_for(cloud, max_new_tokens=6).design(
        "Hello from a designed voice.", "English", "A bright, young female voice.", JobControl()
    )
    assert [call.method for call in cloud.calls] == ["design"]
    assert cloud.calls[0].arguments["instruct"] == "A bright, young female voice."
    assert audio.sample_rate == 24_000
    assert 0 < audio.duration <= 6 / CODEC_FRAMES_PER_SECOND + 0.01


def test_the_modal_app_defines_what_the_engine_calls() -> None:
    from modal_app import app as deployment
    from modal_app import download_models
    from modal_app.service import QwenService

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert isinstance(deployment.app, modal.App)
    assert deployment.app.name == settings.modal_app_name == APP
    classes = {settings.modal_clone_class: deployment.QwenClone}
    classes[settings.modal_design_class] = deployment.QwenDesign
    for name, cls in classes.items():
        assert isinstance(cls, modal.Cls)
        instance = cls()
        for method in APP_METHODS[name]:
            assert isinstance(getattr(instance, method), modal.Function)
    # The engine's keyword arguments are the service's parameters.
    assert list(inspect.signature(QwenService.clone).parameters)[1:] == [
        "texts",
        "language",
        "ref_audio",
        "ref_text",
        "max_new_tokens",
    ]
    assert isinstance(download_models.app, modal.App)


def test_the_service_refuses_bad_requests(services: dict[str, Callable[[], Any]]) -> None:
    from modal_app.service import RequestError

    clone = services["QwenClone"]()
    ref = io.BytesIO()
    sf.write(ref, tiny_reference().audio.samples, 24_000, format="WAV")
    good = {
        "language": "english",
        "ref_audio": ref.getvalue(),
        "ref_text": "Hi.",
        "max_new_tokens": 4,
    }
    with pytest.raises(RequestError, match="1–16 texts"):
        clone.clone(**(good | {"texts": []}))
    with pytest.raises(RequestError, match="max_new_tokens"):
        clone.clone(**(good | {"texts": ["Hello."], "max_new_tokens": 100_000}))
    with pytest.raises(RequestError, match="not readable audio"):
        clone.clone(**(good | {"texts": ["Hello."], "ref_audio": b"nonsense"}))
    with pytest.raises(RequestError, match="not 'voice_design'"):
        clone.design(["Hello."], "english", "A calm voice.", 4)


def test_create_engine_builds_the_modal_engine_without_contacting_modal() -> None:
    from utter.engines import create_engine

    settings = Settings(_env_file=None, engine="modal", modal_environment="staging")  # type: ignore[call-arg]
    engine = create_engine(settings)
    assert isinstance(engine, ModalEngine)
    assert engine.capabilities().name == "modal"
    assert engine.capabilities().languages == QWEN_LANGUAGES
