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

    callback_timeout_seconds: float = Field(default=10.0, gt=0)
    callback_retry_schedule: tuple[float, ...] = Field(
        default=(5, 300, 1800, 7200, 18000, 36000, 36000),
        description="Seconds before each retry of a failed callback; then it is dead.",
    )
    callback_retry_jitter: float = Field(default=0.1, ge=0, le=0.5)
    callback_lease_seconds: float = Field(
        default=60.0, gt=0, description="How long a claimed callback stays claimed."
    )
    callback_batch_size: int = Field(default=20, ge=1, le=500)
    callback_secret_overlap: timedelta = Field(
        default=timedelta(hours=24),
        description="After a rotation, how long callbacks carry the old secret's signature too.",
    )
    webhook_max_attempts: int = Field(default=10, ge=1)
    webhook_concurrency: int = Field(
        default=4,
        ge=1,
        le=100,
        description="Webhooks of different payments a worker applies at once (the events of "
        "one payment always in order); each holds a database connection meanwhile.",
    )
    webhook_retry_seconds: float = Field(
        default=1.0, gt=0, description="First delay before reprocessing a failed webhook."
    )
    worker_schedule_seconds: float = Field(
        default=15.0, gt=0, description="How often the periodic jobs (expiry, janitor) run."
    )
    janitor_after: timedelta = Field(
        default=timedelta(minutes=10),
        description="Age after which a silent pending payment or operation is asked about.",
    )
    janitor_schedule: tuple[float, ...] = Field(
        default=(300, 3600, 86400),
        description="Seconds between status queries for one payment; the last one repeats.",
    )
    worker_poll_seconds: float = Field(
        default=2.0, gt=0, description="Polling backstop when no notification wakes the worker."
    )
    statistics_fold_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the worker folds pending statistics deltas into the daily rows.",
    )
    statistics_fold_batch: int = Field(
        default=5000, ge=1, description="Deltas folded per statement (one transaction each)."
    )
    partitions_ahead_months: int = Field(
        default=3,
        ge=1,
        le=24,
        description="Months of payment_logs partitions the worker keeps created ahead of now.",
    )
    archive_min_age: timedelta = Field(
        default=timedelta(days=90),
        ge=timedelta(0),
        description="`payrelay archive --before DATE` refuses a DATE more recent than this ago.",
    )
    archive_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Payments `payrelay archive` moves per commit."
    )

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)
    db_pre_ping: bool = Field(
        default=False,
        description="Test each pooled connection before use: one more round trip per "
        "transaction. Off: a connection lost with a database restart fails one request (which "
        "the client retries with its idempotency key) and the pool reconnects.",
    )

    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
