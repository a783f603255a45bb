"""How a callback is signed and what an answer means. Pure: no I/O."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

import orjson

from payrelay.kit.crypto import body_signature_hex, standard_webhooks_signature

RETRYABLE_STATUSES = frozenset({408, 429})
# Jitter has its own generator: the process-wide `random` state is not ours to move.
_JITTER = random.Random()  # noqa: S311 (jitter, not secrets)
MAX_EXCERPT = 2048


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    DISABLE = "disable"  # 410 Gone: stop, and stop using this URL until re-enabled


@dataclass(frozen=True, slots=True)
class SignedRequest:
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    retry_in: float | None = None  # seconds, for RETRY


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed."""
    return orjson.dumps(payload)


def sign(payload: dict[str, Any], secrets: list[str], timestamp: int) -> SignedRequest:
    """Standard Webhooks headers (one `v1` signature per live secret, newest first) plus the
    `Signature` header spatie/laravel-webhook-client checks (newest secret)."""
    body = encode(payload)
    message_id = str(payload["id"])
    signatures = " ".join(
        standard_webhooks_signature(secret, message_id, timestamp, body) for secret in secrets
    )
    return SignedRequest(
        body=body,
        headers={
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signatures,
            "signature": body_signature_hex(secrets[0], body),
        },
    )


def decide(
    status_code: int | None,
    *,
    retry_after: str | None,
    attempt: int,
    schedule: tuple[float, ...],
    jitter: float,
    now: datetime,
    rng: random.Random | None = None,
) -> Decision:
    """`status_code` None means no answer (network error or timeout). `attempt` counts from 1."""
    if status_code is not None and 200 <= status_code < 300:
        return Decision(Verdict.DELIVERED)
    if status_code == 410:
        return Decision(Verdict.DISABLE)
    retryable = (
        status_code is None
        or status_code >= 500
        or status_code in RETRYABLE_STATUSES
        or 300 <= status_code < 400  # redirects are not followed: a failure, try again later
    )
    if not retryable or attempt > len(schedule):
        return Decision(Verdict.DEAD)
    delay = schedule[attempt - 1] * (1 + (rng or _JITTER).uniform(-jitter, jitter))
    waited = _retry_after_seconds(retry_after, now)
    if waited is not None:
        delay = max(delay, waited)
    return Decision(Verdict.RETRY, retry_in=delay)


def _retry_after_seconds(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
