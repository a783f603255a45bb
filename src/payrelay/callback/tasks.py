"""The worker's callback job: claim due callbacks, deliver each with no transaction open, record
the attempt and what comes next. At-least-once: a worker that dies mid-delivery leaves its claim
to expire, and another worker delivers the callback again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from payrelay.callback import metrics
from payrelay.callback.delivery import MAX_EXCERPT, Decision, Verdict, decide, sign
from payrelay.callback.repository import ClaimedCallback, DeliveryRepository
from payrelay.config import Settings
from payrelay.enums import CallbackStatus
from payrelay.kit.db import Database
from payrelay.kit.urls import resolves_to_private
from payrelay.logging import get_logger
from payrelay.models import CallbackAttempt, Merchant

log = get_logger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Target:
    callback: ClaimedCallback
    secrets: list[str]
    disabled: bool


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None
    retry_after: str | None
    excerpt: str | None
    error: str | None
    duration_ms: int


def live_secrets(merchant: Merchant, now: datetime) -> list[str]:
    """The current secret, and the previous one while the rotation overlap lasts."""
    secrets = [merchant.callback_secret]
    expires = merchant.previous_callback_secret_expires_at
    if merchant.previous_callback_secret and expires is not None and expires > now:
        secrets.append(merchant.previous_callback_secret)
    return secrets


async def deliver_due(
    db: Database, http: httpx.AsyncClient, settings: Settings, clock: Clock = utcnow
) -> int:
    """Deliver one batch of due callbacks; return how many were claimed."""
    now = clock()
    lease = now + timedelta(seconds=settings.callback_lease_seconds)
    async with db.transaction() as session:
        repository = DeliveryRepository(session)
        claimed = await repository.claim_due(now, lease, settings.callback_batch_size)
        merchants: dict[object, Merchant] = {}
        for merchant_id in {callback.merchant_id for callback in claimed}:
            merchant = await repository.signing_state(merchant_id)
            assert merchant is not None
            merchants[merchant_id] = merchant
    targets = [
        Target(
            callback=callback,
            secrets=live_secrets(merchants[callback.merchant_id], now),
            disabled=_disabled(merchants[callback.merchant_id], callback.callback_url),
        )
        for callback in claimed
    ]
    await asyncio.gather(*(_deliver(db, http, settings, target, clock) for target in targets))
    return len(claimed)


def _disabled(merchant: Merchant, url: str) -> bool:
    return merchant.callback_url_disabled_at is not None and url == merchant.callback_url


async def _deliver(
    db: Database, http: httpx.AsyncClient, settings: Settings, target: Target, clock: Clock
) -> None:
    callback = target.callback
    bound = log.bind(callback_id=str(callback.id), payment_id=str(callback.payment_request_id))
    if target.disabled:
        await _hold(db, callback, clock())
        return
    host = urlsplit(callback.callback_url).hostname or ""
    if not settings.allow_private_callbacks and await resolves_to_private(host):
        answer = Answer(None, None, None, "refused: the URL points at a private address", 0)
        decision = Decision(Verdict.DEAD)
    else:
        answer = await _post(http, settings, target)
        decision = decide(
            answer.status_code,
            retry_after=answer.retry_after,
            attempt=callback.retry_count + 1,
            schedule=settings.callback_retry_schedule,
            jitter=settings.callback_retry_jitter,
            now=clock(),
        )
    await _record(db, target, answer, decision, clock())
    metrics.record_delivery(decision.verdict, answer.duration_ms, callback.created_at, clock())
    bound.info(
        "callback.attempt",
        attempt=callback.retry_count + 1,
        status=answer.status_code,
        verdict=decision.verdict.value,
        error=answer.error,
    )


async def _post(http: httpx.AsyncClient, settings: Settings, target: Target) -> Answer:
    signed = sign(target.callback.payload, target.secrets, int(time.time()))
    started = time.perf_counter()
    try:
        async with http.stream(
            "POST",
            target.callback.callback_url,
            content=signed.body,
            headers=signed.headers,
            timeout=settings.callback_timeout_seconds,
            follow_redirects=False,
        ) as response:
            excerpt = await _excerpt(response)
            return Answer(
                status_code=response.status_code,
                retry_after=response.headers.get("retry-after"),
                excerpt=excerpt,
                error=None if response.is_success else f"HTTP {response.status_code}",
                duration_ms=_elapsed_ms(started),
            )
    except httpx.TimeoutException:
        error = f"timeout after {settings.callback_timeout_seconds:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    return Answer(None, None, None, error, _elapsed_ms(started))


async def _excerpt(response: httpx.Response) -> str:
    """The first 2 KB of the answer, read no further."""
    collected = b""
    async for chunk in response.aiter_raw():
        collected += chunk
        if len(collected) >= MAX_EXCERPT:
            break
    return collected[:MAX_EXCERPT].decode("utf-8", errors="replace")


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def _record(
    db: Database, target: Target, answer: Answer, decision: Decision, now: datetime
) -> None:
    callback = target.callback
    attempt = callback.retry_count + 1
    values: dict[str, object] = {
        "retry_count": attempt,
        "response_status": answer.status_code,
        "response_excerpt": answer.excerpt,
        "last_error": answer.error,
        "locked_until": None,
        "updated_at": now,
    }
    if decision.verdict is Verdict.DELIVERED:
        values |= {"status": CallbackStatus.DELIVERED.value, "delivered_at": now}
        values["next_retry_at"] = None
    elif decision.verdict is Verdict.RETRY:
        assert decision.retry_in is not None
        values |= {
            "status": CallbackStatus.FAILED.value,
            "next_retry_at": now + timedelta(seconds=decision.retry_in),
        }
    else:
        values |= {"status": CallbackStatus.DEAD.value, "next_retry_at": None}
    async with db.transaction() as session:
        repository = DeliveryRepository(session)
        await repository.add_attempt(
            CallbackAttempt(
                callback_id=callback.id,
                attempt=attempt,
                callback_url=callback.callback_url,
                response_status=answer.status_code,
                duration_ms=answer.duration_ms,
                error=answer.error,
                response_excerpt=answer.excerpt,
                created_at=now,
            )
        )
        if not await repository.finish(callback, **values):
            log.warning("callback.claim_lost", callback_id=str(callback.id))
        if decision.verdict is Verdict.DISABLE:
            await repository.disable_merchant_url(callback.merchant_id, callback.callback_url, now)


async def _hold(db: Database, callback: ClaimedCallback, now: datetime) -> None:
    """The merchant's URL answered 410 Gone: keep the callback, unscheduled, until re-enabled."""
    async with db.transaction() as session:
        await DeliveryRepository(session).finish(
            callback,
            status=CallbackStatus.FAILED.value,
            locked_until=None,
            next_retry_at=None,
            last_error="callback URL disabled after 410 Gone; re-enable it to resume",
            updated_at=now,
        )
