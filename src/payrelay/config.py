"""The only place that reads the environment: every setting has a `PAYRELAY_` variable."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYRELAY_", extra="ignore")

    database_url: SecretStr | None = Field(
        default=None,
        description="Postgres URL; without it payrelay starts a private embedded server.",
    )
    home: Path = Field(default=Path(".payrelay"), description="Data folder of the embedded server.")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        default=None,
        description="Base URL gateways and customers use to reach payrelay "
        "(default http://HOST:PORT).",
    )
    allow_private_callbacks: bool = Field(
        default=False,
        description="Accept callback URLs on loopback and private networks (development, tests).",
    )
    log_level: str = "INFO"
    log_json: bool = True

    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    default_expires_in: timedelta = timedelta(hours=1)
    idempotency_lock_timeout: timedelta = timedelta(seconds=90)
    duplicate_charge_window: timedelta = timedelta(minutes=5)
    gateway_timeout_seconds: float = Field(default=30.0, gt=0)

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)

    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
