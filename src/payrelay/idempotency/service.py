"""Stripe-grade idempotency keys (design §4, reliability.md §1).

A keyed request first claims its key. A finished key replays its stored response; a key held
by a running request answers 409; a key whose holder died (its lease expired) is taken over and
the request resumes from its recovery point. The same key with a different request is a 422.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from payrelay.enums import IdempotencyState, RecoveryPoint
from payrelay.exceptions import BadRequest, Conflict, UnprocessableEntity
from payrelay.idempotency.repository import IdempotencyRepository
from payrelay.kit.db import AsyncSession
from payrelay.kit.ids import new_id
from payrelay.models import IdempotencyKey

MAX_KEY_LENGTH = 255
OPERATION_KEY_RETENTION = timedelta(hours=72)


class IdempotencyKeyMissing(BadRequest):
    code = "idempotency_key_missing"


class IdempotencyKeyInvalid(BadRequest):
    code = "idempotency_key_invalid"


class IdempotencyKeyReused(UnprocessableEntity):
    code = "idempotency_key_reused"


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"


@dataclass(frozen=True, slots=True)
class Replay:
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Claim:
    key: IdempotencyKey
    resumed: bool


def validate_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    if not key.isascii() or not key.isprintable():
        raise IdempotencyKeyInvalid("Idempotency-Key must be printable ASCII")
    return key


def fingerprint(method: str, path: str, body: Any) -> str:
    """SHA-256 of the request as validated, so formatting differences do not count."""
    canonical = orjson.dumps(
        {"method": method, "path": path, "body": body}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()


async def claim(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    key: str,
    method: str,
    path: str,
    request_fingerprint: str,
    lease: timedelta,
    retention: timedelta | None,
) -> Claim | Replay:
    now = datetime.now(UTC)
    repository = IdempotencyRepository(session)
    inserted = await repository.insert_if_absent(
        {
            "id": new_id(),
            "merchant_id": merchant_id,
            "key": key,
            "request_method": method,
            "request_path": path,
            "fingerprint": request_fingerprint,
            "state": IdempotencyState.IN_PROGRESS.value,
            "recovery_point": RecoveryPoint.STARTED.value,
            "locked_until": now + lease,
            "expires_at": now + retention if retention is not None else None,
        }
    )
    if inserted is not None:
        return Claim(key=inserted, resumed=False)
    existing = await repository.lock(merchant_id, key)
    if existing is None:  # deleted between our insert and select: a released key
        raise IdempotencyKeyInUse("the request with this Idempotency-Key was just released; retry")
    if (
        existing.request_method != method
        or existing.request_path != path
        or existing.fingerprint != request_fingerprint
    ):
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request",
            details={"original_path": existing.request_path},
        )
    if existing.state == IdempotencyState.COMPLETED.value:
        assert existing.response_status is not None
        assert existing.response_body is not None
        return Replay(status_code=existing.response_status, body=existing.response_body)
    if existing.locked_until is not None and existing.locked_until > now:
        raise IdempotencyKeyInUse(
            "another request with this Idempotency-Key is still in progress; retry later",
            headers={"Retry-After": "1"},
        )
    await repository.update(existing.id, locked_until=now + lease)
    return Claim(key=existing, resumed=True)


async def record_progress(
    session: AsyncSession,
    key_id: uuid.UUID,
    *,
    payment_request_id: uuid.UUID,
    operation_id: uuid.UUID,
) -> None:
    await IdempotencyRepository(session).update(
        key_id,
        recovery_point=RecoveryPoint.OPERATION_RECORDED.value,
        payment_request_id=payment_request_id,
        operation_id=operation_id,
    )


async def complete(
    session: AsyncSession, key_id: uuid.UUID, status_code: int, body: dict[str, Any]
) -> None:
    await IdempotencyRepository(session).update(
        key_id,
        state=IdempotencyState.COMPLETED.value,
        recovery_point=RecoveryPoint.FINISHED.value,
        response_status=status_code,
        response_body=body,
        locked_until=None,
        completed_at=datetime.now(UTC),
    )


async def release(session: AsyncSession, key_id: uuid.UUID) -> None:
    """Give the key back after a failure: forget it if nothing durable happened yet, otherwise
    unlock it so a retry resumes from its recovery point."""
    repository = IdempotencyRepository(session)
    key = await repository.lock_by_id(key_id)
    if key is None or key.state == IdempotencyState.COMPLETED.value:
        return
    if key.recovery_point == RecoveryPoint.STARTED.value:
        await repository.delete(key_id)
    else:
        await repository.update(key_id, locked_until=None)
