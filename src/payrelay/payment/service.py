"""Payment work inside one transaction: validate, record, apply results. Never commits, never
calls a gateway (the orchestrator does both, around these functions)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError

from payrelay import connectors
from payrelay.audit import service as audit_service
from payrelay.connectors.base import (
    Capabilities,
)
from payrelay.enums import CaptureMethod, OperationKind, OperationStatus, PaymentStatus
from payrelay.gateway_account import service as gateway_account_service
from payrelay.kit import money
from payrelay.kit.db import AsyncSession
from payrelay.kit.ids import new_id, order_reference
from payrelay.kit.urls import UrlRejected, validate_callback_url
from payrelay.models import (
    Merchant,
    PaymentGateway,
    PaymentOperation,
    PaymentRequest,
    PaymentTransaction,
)
from payrelay.payment import state
from payrelay.payment.errors import (
    ActivePaymentExists,
    AmountOutOfRange,
    AmountTooPrecise,
    CallbackUrlNotAllowed,
    DuplicateCharge,
    GatewayNotConfigured,
    InvalidAmount,
    ListingRequired,
    NotSupportedByGateway,
    PaymentNotFound,
    UnknownGateway,
    UnsupportedCurrency,
)
from payrelay.payment.repository import PaymentRepository, PaymentRow
from payrelay.payment.schemas import CreatePaymentIn
from payrelay.payment.transitions import ledger_of
from payrelay.statistics import service as statistics_service

ACTIVE_INDEX = "uq_payment_transactions_active_user_listing"
MAX_AMOUNT_DIGITS = 15


@dataclass(frozen=True, slots=True)
class GatewayTarget:
    """Everything needed to call the gateway for one operation, read before the call."""

    code: str
    account: PaymentGateway
    operation: PaymentOperation
    row: PaymentRow


@dataclass(frozen=True, slots=True)
class CreateOptions:
    allow_private_callbacks: bool
    duplicate_charge_window: timedelta
    default_expires_in: timedelta


def gateway_key(operation_id: uuid.UUID) -> str:
    """The idempotency key sent to the gateway: derived from our operation, never random."""
    return f"payrelay-{operation_id}"


# --- create ------------------------------------------------------------------------------


async def resolve_gateway(
    session: AsyncSession, merchant: Merchant, body: CreatePaymentIn
) -> tuple[str, str | None, PaymentGateway]:
    """The gateway code, the payment method and the merchant's account at that gateway."""
    code, method = body.gateway, body.payment_method
    if code is None and method is not None and connectors.is_registered(method):
        code, method = method, None  # the shop document's `payment_method: "momo"`
    if code is None:
        raise UnknownGateway(
            "say which gateway to use: `gateway` (or a gateway code in `payment_method`)",
            details={"known": connectors.codes()},
        )
    if not connectors.is_registered(code):
        raise UnknownGateway(f"unknown gateway {code!r}", details={"known": connectors.codes()})
    account = await gateway_account_service.get_account(session, merchant.id, code)
    if account is None or not account.enabled:
        raise GatewayNotConfigured(
            f"this merchant has no enabled {code} account; run `payrelay gateway set`"
        )
    return code, method, account


def validate_amount(amount: Decimal, currency: str, capabilities: Capabilities) -> Decimal:
    if not money.is_currency(currency):
        raise UnsupportedCurrency(
            f"{currency!r} is not an ISO 4217 currency with a minor unit",
            details={"currency": currency},
        )
    if not capabilities.supports_currency(currency):
        raise UnsupportedCurrency(
            f"the gateway does not accept {currency}",
            details={"currency": currency, "accepted": sorted(capabilities.currencies or [])},
        )
    amount = exact_positive_amount(amount, currency)
    if amount.adjusted() >= MAX_AMOUNT_DIGITS:
        raise AmountOutOfRange("amount is too large", details={"amount": str(amount)})
    low, high = capabilities.min_amount.get(currency), capabilities.max_amount.get(currency)
    if (low is not None and amount < low) or (high is not None and amount > high):
        raise AmountOutOfRange(
            f"the gateway accepts {currency} amounts from {low} to {high}",
            details={"min": str(low) if low else None, "max": str(high) if high else None},
        )
    return amount


def exact_positive_amount(amount: Decimal, currency: str) -> Decimal:
    """`amount` in the currency's minor unit, refusing extra digits and anything not above 0."""
    try:
        amount = money.quantize(amount, currency)
    except money.TooPrecise:
        raise AmountTooPrecise(
            f"{currency} amounts have at most {money.currency_exponent(currency)} decimal places",
            details={"amount": str(amount), "currency": currency},
        ) from None
    if amount <= 0:
        raise InvalidAmount("amount must be greater than zero", details={"amount": str(amount)})
    return amount


async def create_draft(
    session: AsyncSession,
    merchant: Merchant,
    body: CreatePaymentIn,
    *,
    idempotency_key: str,
    fingerprint: str,
    options: CreateOptions,
    now: datetime,
) -> GatewayTarget:
    """Record the payment and its `create` operation before anything is sent to the gateway."""
    if body.seller_id is not None and body.listing_id is None:
        raise ListingRequired(
            "a payment with a seller_id is a marketplace sale: say what is sold in listing_id",
            details={"seller_id": body.seller_id},
        )
    code, method, account = await resolve_gateway(session, merchant, body)
    capabilities = connectors.connector_class(code).capabilities_for(account.config)
    amount = validate_amount(body.amount, body.currency, capabilities)
    if body.capture_method is CaptureMethod.MANUAL and not capabilities.manual_capture:
        raise NotSupportedByGateway(f"{code} does not support manual capture")
    if body.callback_url is not None:
        try:
            validate_callback_url(body.callback_url, allow_private=options.allow_private_callbacks)
        except UrlRejected as exc:
            raise CallbackUrlNotAllowed(f"callback_url: {exc}") from exc
    repository = PaymentRepository(session)
    if body.user_id is not None and body.listing_id is not None:
        await _guard_duplicate_charge(
            repository,
            merchant,
            body.user_id,
            body.listing_id,
            now - options.duplicate_charge_window,
        )
    split = money.split_commission(amount, merchant.commission_rate, body.currency)
    expires_in = (
        timedelta(seconds=body.expires_in) if body.expires_in else options.default_expires_in
    )
    request = PaymentRequest(
        id=new_id(),
        merchant_id=merchant.id,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        order_id=body.order_id,
        payment_method=code,
        amount=amount,
        currency=body.currency,
        callback_url=body.callback_url,
        return_url=body.return_url,
        metadata_=body.metadata,
        expires_at=now + expires_in,
        gateway_data={"gateway": code, "account_id": account.id},
        created_at=now,
        updated_at=now,
    )
    transaction = PaymentTransaction(
        gateway_id=account.id,
        merchant_id=merchant.id,
        payment_request_id=request.id,
        user_id=body.user_id,
        listing_id=body.listing_id,
        seller_id=body.seller_id,
        order_reference=order_reference(now, body.user_id),
        amount=amount,
        currency=body.currency,
        marketplace_commission=split.commission,
        seller_amount=split.seller_amount,
        status=PaymentStatus.PENDING.value,
        payment_method=method or capabilities.default_payment_method,
        capture_method=body.capture_method.value,
        customer_email=body.customer_email,
        description=body.description,
        expires_at=request.expires_at,
        created_at=now,
        updated_at=now,
    )
    operation_id = new_id()
    await _insert(repository, request, transaction)
    operation = PaymentOperation(
        id=operation_id,
        payment_transaction_id=transaction.id,
        merchant_id=merchant.id,
        kind=OperationKind.CREATE.value,
        amount=amount,
        status=OperationStatus.PENDING.value,
        gateway_idempotency_key=gateway_key(operation_id),
        created_at=now,
        updated_at=now,
    )
    await repository.add(operation)
    row = PaymentRow(request=request, transaction=transaction, gateway=code, escrow=None)
    await statistics_service.count_created(
        session, row, timezone=merchant.reporting_timezone, now=now
    )
    await audit_service.record(
        session,
        event_type="payment.created",
        actor="merchant",
        merchant_id=merchant.id,
        payment_request_id=request.id,
        payment_transaction_id=transaction.id,
        data={
            "order_id": body.order_id,
            "order_reference": transaction.order_reference,
            "gateway": code,
            "amount": money.format_amount(amount, body.currency),
            "currency": body.currency,
            "capture_method": body.capture_method.value,
            "marketplace_commission": money.format_amount(split.commission, body.currency),
            "seller_amount": money.format_amount(split.seller_amount, body.currency),
        },
    )
    return GatewayTarget(code, account, operation, row)


async def _guard_duplicate_charge(
    repository: PaymentRepository,
    merchant: Merchant,
    user_id: str,
    listing_id: str,
    since: datetime,
) -> None:
    await repository.lock_user_listing(merchant.id, user_id, listing_id)
    if await repository.active_exists(merchant.id, user_id, listing_id):
        raise ActivePaymentExists(
            "this user already has an active (pending or authorized) payment for this listing",
            details={"user_id": user_id, "listing_id": listing_id},
        )
    if await repository.recent_charge_exists(merchant.id, user_id, listing_id, since):
        raise DuplicateCharge(
            "this user was already charged for this listing a few minutes ago",
            details={"user_id": user_id, "listing_id": listing_id, "since": since.isoformat()},
        )


async def _insert(repository: PaymentRepository, *rows: object) -> None:
    try:
        await repository.add(*rows)
    except IntegrityError as exc:
        if ACTIVE_INDEX in str(exc.orig):
            raise ActivePaymentExists(
                "this user already has an active payment for this listing"
            ) from None
        raise


# --- operations ----------------------------------------------------------------------------


def _require_capability(
    gateway: str, capabilities: Capabilities, kind: OperationKind, *, external: bool
) -> None:
    """A command the gateway cannot carry out is refused before anything is recorded."""
    if kind is OperationKind.CAPTURE and not capabilities.manual_capture:
        raise NotSupportedByGateway(f"{gateway} payments cannot be captured through payrelay")
    if kind is OperationKind.VOID and not capabilities.void:
        raise NotSupportedByGateway(f"{gateway} payments cannot be voided through payrelay")
    if kind is OperationKind.REFUND and not capabilities.refund and not external:
        raise NotSupportedByGateway(
            f"{gateway} cannot refund through an API; give the money back outside payrelay "
            'and record it with {"external": true}'
        )


async def load_target(session: AsyncSession, operation_id: uuid.UUID) -> GatewayTarget:
    repository = PaymentRepository(session)
    operation = await repository.get_operation(operation_id)
    if operation is None:
        raise PaymentNotFound("operation not found")
    row = await repository.lock_by_transaction(operation.payment_transaction_id)
    assert row is not None
    account = await gateway_account_service.get_account_by_id(session, row.transaction.gateway_id)
    assert account is not None
    return GatewayTarget(row.gateway, account, operation, row)


async def capture_key(session: AsyncSession, target: GatewayTarget) -> str | None:
    """For a refund: the key of the payment's succeeded capture, if it was captured separately
    (gateways that refund the capture, not the authorization, look the capture up by it)."""
    if target.operation.kind != OperationKind.REFUND.value:
        return None
    capture = await PaymentRepository(session).latest_operation(
        target.row.transaction.id, OperationKind.CAPTURE
    )
    if capture is None or capture.status != OperationStatus.SUCCEEDED.value:
        return None
    return capture.gateway_idempotency_key


async def plan_completion(
    session: AsyncSession, transaction_id: int, *, in_flight_since: datetime, now: datetime
) -> GatewayTarget | None:
    """The completion to send for an approved payment, or None: not pending, not a gateway that
    needs it, already completed, or being completed by another trigger right now."""
    repository = PaymentRepository(session)
    row = await repository.lock_by_transaction(transaction_id)
    if row is None or row.transaction.status != PaymentStatus.PENDING.value:
        return None
    if not connectors.connector_class(row.gateway).capabilities.needs_completion:
        return None
    account = await gateway_account_service.get_account_by_id(session, row.transaction.gateway_id)
    assert account is not None
    existing = await repository.latest_operation(row.transaction.id, OperationKind.COMPLETE)
    if existing is not None:
        if existing.status == OperationStatus.SUCCEEDED.value:
            return None
        unresolved = existing.status in (
            OperationStatus.PENDING.value,
            OperationStatus.UNKNOWN.value,
        )
        if unresolved and existing.updated_at > in_flight_since:
            return None
        if unresolved:  # left behind: send it again with the same key (the gateway dedupes)
            return GatewayTarget(row.gateway, account, existing, row)
    operation_id = new_id()
    operation = PaymentOperation(
        id=operation_id,
        payment_transaction_id=row.transaction.id,
        merchant_id=row.transaction.merchant_id,
        kind=OperationKind.COMPLETE.value,
        amount=row.transaction.amount,
        status=OperationStatus.PENDING.value,
        gateway_idempotency_key=gateway_key(operation_id),
        created_at=now,
        updated_at=now,
    )
    await repository.add(operation)
    await audit_service.record(
        session,
        event_type="complete.requested",
        actor="system",
        merchant_id=row.transaction.merchant_id,
        payment_request_id=row.request.id,
        payment_transaction_id=row.transaction.id,
        data={"operation_id": str(operation_id)},
    )
    return GatewayTarget(row.gateway, account, operation, row)


async def plan_operation(
    session: AsyncSession,
    merchant: Merchant,
    payment_id: uuid.UUID,
    kind: OperationKind,
    *,
    amount: Decimal | None,
    reason: str | None,
    now: datetime,
    actor: str = "merchant",
    external: bool = False,
) -> GatewayTarget:
    """Check the command against the ledger and record the operation, reserving its amount."""
    repository = PaymentRepository(session)
    row = await repository.lock(merchant.id, payment_id)
    if row is None:
        raise PaymentNotFound("payment not found")
    account = await gateway_account_service.get_account_by_id(session, row.transaction.gateway_id)
    assert account is not None
    capabilities = connectors.connector_class(row.gateway).capabilities_for(account.config)
    if amount is not None:
        amount = exact_positive_amount(amount, row.transaction.currency)
    _require_capability(row.gateway, capabilities, kind, external=external)
    ledger = await ledger_of(session, row)
    if kind is OperationKind.CAPTURE:
        planned = state.plan_capture(ledger, amount)
        if planned < ledger.authorized and not capabilities.partial_capture:
            raise NotSupportedByGateway(f"{row.gateway} does not support partial capture")
    elif kind is OperationKind.VOID:
        planned = state.plan_void(ledger)
    else:
        planned = state.plan_refund(ledger, amount)
        if not external and planned < ledger.captured and not capabilities.partial_refund:
            raise NotSupportedByGateway(f"{row.gateway} does not support partial refunds")
        if not external and ledger.refunded > 0 and not capabilities.multiple_refunds:
            raise NotSupportedByGateway(f"{row.gateway} allows only one refund per payment")
    operation_id = new_id()
    operation = PaymentOperation(
        id=operation_id,
        payment_transaction_id=row.transaction.id,
        merchant_id=merchant.id,
        kind=kind.value,
        amount=planned,
        status=OperationStatus.PENDING.value,
        gateway_idempotency_key=gateway_key(operation_id),
        reason=reason,
        created_at=now,
        updated_at=now,
    )
    await repository.add(operation)
    currency = row.transaction.currency
    await audit_service.record(
        session,
        event_type=f"{kind.value}.requested",
        actor=actor,
        merchant_id=merchant.id,
        payment_request_id=row.request.id,
        payment_transaction_id=row.transaction.id,
        data={
            "operation_id": str(operation_id),
            "amount": money.format_amount(planned, currency),
            "reason": reason,
            **({"external": True} if external else {}),
        },
    )
    return GatewayTarget(row.gateway, account, operation, row)


# --- reads ---------------------------------------------------------------------------------


async def get_payment(
    session: AsyncSession, merchant: Merchant, payment_id: uuid.UUID
) -> PaymentRow:
    row = await PaymentRepository(session).get(merchant.id, payment_id)
    if row is None:
        raise PaymentNotFound("payment not found")
    return row
