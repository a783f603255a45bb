"""Merchants and their API keys. A key is shown once, at creation; only its hash is kept."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from payrelay.audit import service as audit_service
from payrelay.exceptions import NotFound, Unauthorized, UnprocessableEntity
from payrelay.kit.crypto import generate_api_key, generate_webhook_secret, hash_api_key
from payrelay.kit.db import AsyncSession
from payrelay.kit.ids import new_id
from payrelay.kit.urls import UrlRejected, validate_callback_url
from payrelay.merchant.repository import MerchantRepository
from payrelay.models import ApiKey, Merchant

DEFAULT_COMMISSION_RATE = Decimal("0.05")
DEFAULT_ESCROW_HOLD_DAYS = 14
MAX_ESCROW_HOLD_DAYS = 365
DEFAULT_REPORTING_TIMEZONE = "UTC"
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


class InvalidMerchant(UnprocessableEntity):
    code = "invalid_merchant"


class MerchantNotFound(NotFound):
    code = "merchant_not_found"


@dataclass(frozen=True, slots=True)
class CreatedMerchant:
    merchant: Merchant
    api_key: str


async def create_merchant(
    session: AsyncSession,
    *,
    name: str,
    callback_url: str | None,
    commission_rate: Decimal = DEFAULT_COMMISSION_RATE,
    escrow_hold_days: int = DEFAULT_ESCROW_HOLD_DAYS,
    reporting_timezone: str = DEFAULT_REPORTING_TIMEZONE,
    allow_private_callbacks: bool,
) -> CreatedMerchant:
    name = name.strip()
    if not name or len(name) > 255:
        raise InvalidMerchant("name must be 1 to 255 characters")
    _check_commission_rate(commission_rate)
    _check_escrow_hold_days(escrow_hold_days)
    _check_timezone(reporting_timezone)
    if callback_url is not None:
        try:
            validate_callback_url(callback_url, allow_private=allow_private_callbacks)
        except UrlRejected as exc:
            raise InvalidMerchant(f"callback URL: {exc}") from exc
    key = generate_api_key()
    merchant = Merchant(
        id=new_id(),
        name=name,
        callback_url=callback_url,
        callback_secret=generate_webhook_secret(),
        commission_rate=commission_rate,
        escrow_hold_days=escrow_hold_days,
        reporting_timezone=reporting_timezone,
    )
    api_key = ApiKey(
        id=new_id(), merchant_id=merchant.id, prefix=key[:12], key_hash=hash_api_key(key)
    )
    await MerchantRepository(session).add(merchant, api_key)
    await audit_service.record(
        session,
        event_type="merchant.created",
        actor="operator",
        merchant_id=merchant.id,
        data={
            "name": name,
            "commission_rate": str(commission_rate),
            "callback_url": callback_url,
            "escrow_hold_days": escrow_hold_days,
            "reporting_timezone": reporting_timezone,
        },
    )
    return CreatedMerchant(merchant=merchant, api_key=key)


async def update_settings(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    *,
    commission_rate: Decimal | None = None,
    escrow_hold_days: int | None = None,
    reporting_timezone: str | None = None,
) -> Merchant:
    """Change a merchant's settings; new values apply to payments and events from now on."""
    merchant = await MerchantRepository(session).lock(merchant_id)
    if merchant is None:
        raise MerchantNotFound(f"no merchant {merchant_id}")
    changed: dict[str, object] = {}
    if commission_rate is not None:
        _check_commission_rate(commission_rate)
        merchant.commission_rate = commission_rate
        changed["commission_rate"] = str(commission_rate)
    if escrow_hold_days is not None:
        _check_escrow_hold_days(escrow_hold_days)
        merchant.escrow_hold_days = escrow_hold_days
        changed["escrow_hold_days"] = escrow_hold_days
    if reporting_timezone is not None:
        _check_timezone(reporting_timezone)
        merchant.reporting_timezone = reporting_timezone
        changed["reporting_timezone"] = reporting_timezone
    if changed:
        merchant.updated_at = datetime.now(UTC)
        await session.flush()
        await audit_service.record(
            session,
            event_type="merchant.updated",
            actor="operator",
            merchant_id=merchant.id,
            data=changed,
        )
    return merchant


def _check_commission_rate(rate: Decimal) -> None:
    if not rate.is_finite() or not (Decimal(0) <= rate < Decimal(1)):
        raise InvalidMerchant("commission rate must be at least 0 and below 1 (0.05 is 5 %)")
    if rate != rate.quantize(Decimal("0.000001")):
        raise InvalidMerchant("commission rate has more than 6 decimal places")


def _check_escrow_hold_days(days: int) -> None:
    if not (0 <= days <= MAX_ESCROW_HOLD_DAYS):
        raise InvalidMerchant(f"escrow hold must be 0 to {MAX_ESCROW_HOLD_DAYS} days")


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidMerchant(
            f"unknown time zone {name!r}: use an IANA name such as UTC or Europe/Belgrade"
        ) from None


async def authenticate(session: AsyncSession, bearer_key: str) -> Merchant:
    found = await MerchantRepository(session).find_by_api_key_hash(hash_api_key(bearer_key))
    if found is None:
        raise Unauthorized("invalid or revoked API key")
    merchant, api_key = found
    now = datetime.now(UTC)
    stale_before = now - API_KEY_TOUCH_INTERVAL
    if api_key.last_used_at is None or api_key.last_used_at < stale_before:
        # The statement checks again: of concurrent requests, one writes.
        await MerchantRepository(session).touch_api_key(api_key.id, now, stale_before)
    return merchant


async def get_merchant(session: AsyncSession, merchant_id: uuid.UUID) -> Merchant | None:
    return await MerchantRepository(session).get(merchant_id)


async def rotate_callback_secret(
    session: AsyncSession, merchant_id: uuid.UUID, *, overlap: timedelta, now: datetime
) -> Merchant:
    """A new callback secret; the old one keeps signing (as a second signature) for `overlap`."""
    merchant = await MerchantRepository(session).lock(merchant_id)
    if merchant is None:
        raise MerchantNotFound(f"no merchant {merchant_id}")
    merchant.previous_callback_secret = merchant.callback_secret
    merchant.previous_callback_secret_expires_at = now + overlap
    merchant.callback_secret = generate_webhook_secret()
    merchant.updated_at = now
    await session.flush()
    await audit_service.record(
        session,
        event_type="merchant.callback_secret_rotated",
        actor="operator",
        merchant_id=merchant_id,
        data={"overlap_seconds": int(overlap.total_seconds())},
    )
    return merchant


async def enable_callbacks(session: AsyncSession, merchant_id: uuid.UUID, now: datetime) -> int:
    """Re-enable a callback URL disabled by a 410; held callbacks become due now. Returns how
    many were resumed."""
    repository = MerchantRepository(session)
    merchant = await repository.lock(merchant_id)
    if merchant is None:
        raise MerchantNotFound(f"no merchant {merchant_id}")
    merchant.callback_url_disabled_at = None
    merchant.updated_at = now
    await session.flush()
    resumed = await repository.resume_held_callbacks(merchant_id, now)
    await audit_service.record(
        session,
        event_type="merchant.callbacks_enabled",
        actor="operator",
        merchant_id=merchant_id,
        data={"resumed": resumed},
    )
    return resumed
