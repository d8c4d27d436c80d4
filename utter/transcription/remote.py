"""Remote transcription: Mistral Voxtral, or any OpenAI-compatible `/v1/audio/transcriptions`.

Both speak the same request: POST {server}/v1/audio/transcriptions, multipart
`model`, `file` and (when known) a `language` code, with `Authorization: Bearer
<key>`. Every call has a time limit, so a provider that never answers cannot hold
a request (and its upload) open.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx

from utter.audio.formats import sniff
from utter.languages import AUTO, CODES
from utter.transcription.base import (
    Transcript,
    TranscriptionDisabled,
    TranscriptionError,
    language_code,
)

RemoteProvider = Literal["mistral", "openai"]

DEFAULT_BASE_URLS: dict[str, str] = {
    "mistral": "https://api.mistral.ai",
    "openai": "https://api.openai.com",
}
DEFAULT_MODELS: dict[str, str] = {"mistral": "voxtral-mini-2602", "openai": "whisper-1"}
_LABELS: dict[str, str] = {"mistral": "Mistral", "openai": "OpenAI-compatible"}

# Voxtral's documented languages (Mistral's API reference); Whisper-style servers take
# every code we know.
_MISTRAL_CODES = ("zh", "en", "ja", "ko", "de", "fr", "ru", "pt", "es", "it")

MAX_ERROR_CHARS = 300
DEFAULT_TIMEOUT_SECONDS = 120.0


def transcriptions_url(base_url: str) -> str:
    """The endpoint under a server root; a root given with its `/v1` is accepted too."""
    root = base_url.rstrip("/")
    if root.endswith("/v1"):
        root = root[: -len("/v1")]
    return f"{root}/v1/audio/transcriptions"


def error_message(body: str) -> str:
    """What went wrong, from an error response: the first of `error` (a string or its
    `.message`), `detail`, `message`, else the raw body."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, str) and error.strip():
            return error.strip()
        if isinstance(error, dict):
            nested = error.get("message")
            if isinstance(nested, str) and nested.strip():
                return nested.strip()
        for key in ("detail", "message"):
            value = payload.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
            if value not in (None, "", [], {}):
                return json.dumps(value, ensure_ascii=False)
    return body.strip()


class RemoteTranscriber:
    """A transcription service reached over HTTP. One connection pool per instance."""

    def __init__(
        self,
        provider: RemoteProvider,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._provider = provider
        self._api_key = api_key or None
        self._explicit_server = base_url is not None
        self.url = transcriptions_url(base_url or DEFAULT_BASE_URLS[provider])
        self._model = model or DEFAULT_MODELS[provider]
        self.timeout = timeout
        self._label = _LABELS[provider]
        self._client: httpx.AsyncClient | None = None

    @property
    def enabled(self) -> bool:
        # Mistral's API refuses every call without a key. An OpenAI-compatible server on
        # our own network may not need one, so naming its URL is enough.
        if self._provider == "mistral":
            return self._api_key is not None
        return self._api_key is not None or self._explicit_server

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def model(self) -> str:
        return self._model

    @property
    def supported_codes(self) -> tuple[str, ...]:
        return _MISTRAL_CODES if self._provider == "mistral" else tuple(CODES.values())

    @property
    def supported_languages(self) -> tuple[str, ...]:
        return (AUTO, *(name for name, code in CODES.items() if code in self.supported_codes))

    def _fail(self, detail: str) -> TranscriptionError:
        return TranscriptionError(f"{self._label} transcription failed{detail}")

    async def transcribe(self, data: bytes, filename: str, language: str) -> Transcript:
        """Send the file as is. Raises TranscriptionDisabled when not configured and
        TranscriptionError for any failure, with the provider's own message."""
        if not self.enabled:
            raise TranscriptionDisabled()
        fields: dict[str, str] = {"model": self._model}
        code = language_code(language)
        if code is not None and code in self.supported_codes:
            fields["language"] = code
        fmt = sniff(data[:64])
        content_type = fmt.content_type if fmt else "application/octet-stream"
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        try:
            response = await self._client.post(
                self.url,
                data=fields,
                files={"file": (filename or "audio.wav", data, content_type)},
                headers=headers,
            )
        except httpx.TimeoutException as exc:
            raise self._fail(f": no answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise self._fail(f": could not reach the server ({type(exc).__name__})") from exc
        if response.status_code >= 400:
            message = error_message(response.text) or response.reason_phrase
            raise self._fail(f" ({response.status_code}): {message[:MAX_ERROR_CHARS]}")
        try:
            payload = response.json()
        except ValueError as exc:
            raise self._fail(f" ({response.status_code}): the answer was not JSON") from exc
        text = payload.get("text") if isinstance(payload, dict) else None
        if not isinstance(text, str):
            raise self._fail(f" ({response.status_code}): the answer had no text")
        upstream_model = payload.get("model")
        upstream_language = payload.get("language")
        return Transcript(
            text=text.strip(),
            model=upstream_model
            if isinstance(upstream_model, str) and upstream_model
            else self._model,
            language=upstream_language if isinstance(upstream_language, str) else None,
            duration_seconds=_audio_seconds(payload),
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _audio_seconds(payload: dict[str, object]) -> float | None:
    """The audio's length when the provider reports it: `duration` (OpenAI's verbose
    answers) or `usage.prompt_audio_seconds` (Mistral)."""
    usage = payload.get("usage")
    for value in (
        payload.get("duration"),
        usage.get("prompt_audio_seconds") if isinstance(usage, dict) else None,
    ):
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
    return None
