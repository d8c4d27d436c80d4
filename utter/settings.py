"""The one settings object. No other module reads the environment.

Every field is read from an `UTTER_*` variable (or the same name in `.env`);
`DATABASE_URL` is also accepted without the prefix, as hosting platforms set it.
Every setting is documented in the README's settings table.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
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
    log_level: str = Field(default="info", description="Log level: debug, info, warning, error.")
    public_url: str | None = Field(
        default=None,
        description="The URL users reach Utter at, for links in emails and signed URLs. "
        "Default: http://HOST:PORT.",
    )

    @property
    def base_url(self) -> str:
        """Where users reach this server, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def postgres_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "utter.lock"

    def resolved(self) -> Settings:
        """A copy whose data dir is absolute, so later `chdir`s cannot move it."""
        return self.model_copy(update={"data_dir": self.data_dir.expanduser().resolve()})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings().resolved()
