"""The sandbox gateway's own logic: its ledger, hosted checkout outcomes and signed notifications.

It plays a real gateway: it checks what payrelay asks, deduplicates on the Idempotency-Key payrelay
sends, and refuses what a gateway would refuse (over-capture, refund of an uncaptured payment).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from payrelay.exceptions import Conflict, NotFound, Unauthorized, UnprocessableEntity
from payrelay.gateway_account import service as gateway_account_service
from payrelay.kit.crypto import constant_time_equals, hmac_sha256_hex
from payrelay.kit.db import AsyncSession
from payrelay.models import PaymentGateway, SandboxTransaction
from payrelay.sandbox.repository import SandboxRepository

GATEWAY_CODE = "sandbox"
SIGNATURE_HEADER = "Sandbox-Signature"
DECLINE_CODE = "card_declined"
DECLINE_MESSAGE = "The sandbox declined the card (chosen on the checkout page)"


class Outcome(StrEnum):
    SUCCEED = "succeed"
    DECLINE = "decline"
    PENDING = "pending"
    TIMEOUT = "timeout"


class SandboxRefused(Conflict):
    code = "sandbox_refused"


class SandboxInvalid(UnprocessableEntity):
    code = "sandbox_invalid_request"


class SandboxNotFound(NotFound):
    code = "sandbox_payment_not_found"


@dataclass(frozen=True, slots=True)
class Notification:
    url: str
    body: bytes
    headers: dict[str, str]


async def authenticate(
    session: AsyncSession, account_id: int, bearer: str | None
) -> PaymentGateway:
    account = await gateway_account_service.get_account_by_id(session, account_id)
    if account is None or account.code != GATEWAY_CODE or not account.enabled:
        raise Unauthorized("unknown sandbox account")
    expected = str(account.config.get("api_key", ""))
    if not bearer or not expected or not constant_time_equals(bearer, expected):
        raise Unauthorized("invalid sandbox API key")
    return account


async def create(
    session: AsyncSession, account: PaymentGateway, key: str, body: dict[str, Any]
) -> tuple[SandboxTransaction, bool]:
    """The payment for this Idempotency-Key: created now, or the one created before."""
    repository = SandboxRepository(session)
    existing = await repository.find_by_create_key(account.id, key)
    if existing is not None:
        return existing, False
    if any(isinstance(value, str) and "\x00" in value for value in body.values()):
        raise SandboxInvalid("text must not contain NUL characters")
    try:
        values = {
            "id": "sbx_" + secrets.token_hex(12),
            "account_id": account.id,
            "create_idempotency_key": key,
            "payment_reference": uuid.UUID(str(body["payment_reference"])),
            "order_reference": str(body["order_reference"])[:255],
            "amount": _amount(body["amount"]),
            "currency": str(body["currency"])[:3],
            "capture_method": str(body.get("capture_method") or "automatic"),
            "status": "created",
            "description": body.get("description"),
            "return_url": body.get("return_url"),
            "notify_url": str(body["notify_url"]),
        }
    except (KeyError, ValueError, TypeError) as exc:
        raise SandboxInvalid(f"bad sandbox payment request: {exc}") from exc
    if values["capture_method"] not in ("automatic", "manual"):
        raise SandboxInvalid("capture_method must be automatic or manual")
    inserted = await repository.insert_if_absent(values)
    if inserted is None:  # a concurrent create with the same key or reference won the race
        again = await repository.find_by_create_key(account.id, key)
        if again is None:
            raise SandboxRefused("this payment reference already has a sandbox payment")
        return again, False
    return inserted, True


async def operate(
    session: AsyncSession,
    account: PaymentGateway,
    transaction_id: str,
    action: str,
    key: str,
    body: dict[str, Any],
) -> tuple[dict[str, Any], SandboxTransaction]:
    payment = await SandboxRepository(session).lock(account.id, transaction_id)
    if payment is None:
        raise SandboxNotFound("no such sandbox payment")
    for operation in payment.operations:
        if operation["idempotency_key"] == key:
            if operation["action"] != action:
                raise SandboxInvalid("Idempotency-Key already used for another operation")
            return operation, payment
    amount = _amount(body["amount"]) if body.get("amount") is not None else None
    apply = {"capture": _capture, "void": _void, "refunds": _refund, "cancel": _cancel}.get(action)
    if apply is None:
        raise SandboxNotFound("no such sandbox operation")
    amount = apply(payment, amount)
    operation = {
        "id": "sbxop_" + secrets.token_hex(10),
        "action": action,
        "idempotency_key": key,
        "amount": f"{amount:f}",
        "status": "succeeded",
        "created": int(time.time()),
    }
    payment.operations = [*payment.operations, operation]
    payment.updated_at = datetime.now(UTC)
    await session.flush()
    return operation, payment


def _capture(payment: SandboxTransaction, amount: Decimal | None) -> Decimal:
    if payment.status != "authorized":
        raise SandboxRefused(f"cannot capture a payment that is {payment.status}")
    amount = payment.amount if amount is None else amount
    if not Decimal(0) < amount <= payment.amount:
        raise SandboxInvalid("capture amount must be positive and at most the authorized amount")
    payment.captured_amount = amount
    payment.status = "captured"
    return amount


def _void(payment: SandboxTransaction, amount: Decimal | None) -> Decimal:
    if payment.status != "authorized":
        raise SandboxRefused(f"cannot void a payment that is {payment.status}")
    payment.status = "voided"
    return payment.amount


def _cancel(payment: SandboxTransaction, amount: Decimal | None) -> Decimal:
    """The merchant gives up on an unpaid payment (it expired): the checkout closes."""
    if payment.status not in ("created", "pending"):
        raise SandboxRefused(f"cannot cancel a payment that is {payment.status}")
    payment.status = "expired"
    return payment.amount


def _refund(payment: SandboxTransaction, amount: Decimal | None) -> Decimal:
    if payment.status not in ("captured", "partially_refunded"):
        raise SandboxRefused(f"cannot refund a payment that is {payment.status}")
    available = payment.captured_amount - payment.refunded_amount
    amount = available if amount is None else amount
    if not Decimal(0) < amount <= available:
        raise SandboxInvalid(f"refund amount must be positive and at most {available}")
    payment.refunded_amount += amount
    payment.status = (
        "refunded" if payment.refunded_amount == payment.captured_amount else ("partially_refunded")
    )
    return amount


async def find_for_checkout(
    session: AsyncSession, payment_reference: uuid.UUID
) -> SandboxTransaction:
    payment = await SandboxRepository(session).get_by_reference(payment_reference)
    if payment is None:
        raise SandboxNotFound("no sandbox checkout for this payment")
    return payment


async def choose_outcome(
    session: AsyncSession, payment_reference: uuid.UUID, outcome: Outcome
) -> tuple[SandboxTransaction, Notification | None]:
    """What the customer chose on the checkout page, and the notification to send (none when
    the outcome is `timeout`: the notification is lost and only a status query will tell)."""
    payment = await SandboxRepository(session).lock_by_reference(payment_reference)
    if payment is None:
        raise SandboxNotFound("no sandbox checkout for this payment")
    if payment.status not in ("created", "pending"):
        raise SandboxRefused(f"this payment is already {payment.status}")
    if outcome is Outcome.DECLINE:
        payment.status = "declined"
    elif outcome is Outcome.PENDING:
        payment.status = "pending"
    elif payment.capture_method == "manual":
        payment.status = "authorized"
    else:
        payment.status = "captured"
        payment.captured_amount = payment.amount
    payment.updated_at = datetime.now(UTC)
    await session.flush()
    if outcome is Outcome.TIMEOUT:
        return payment, None
    account = await gateway_account_service.get_account_by_id(session, payment.account_id)
    assert account is not None
    return payment, notification(payment, str(account.config["webhook_secret"]))


def notification(payment: SandboxTransaction, secret: str) -> Notification:
    timestamp = int(time.time())
    body = json.dumps(
        {
            "id": "evt_" + secrets.token_hex(12),
            "type": f"payment.{payment.status}",
            "created": timestamp,
            "data": payment_json(payment, checkout_url=None),
        },
        separators=(",", ":"),
    ).encode()
    signature = hmac_sha256_hex(secret.encode(), f"{timestamp}.".encode() + body)
    return Notification(
        url=payment.notify_url,
        body=body,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: f"t={timestamp},v1={signature}",
        },
    )


def payment_json(payment: SandboxTransaction, checkout_url: str | None) -> dict[str, Any]:
    declined = payment.status == "declined"
    return {
        "id": payment.id,
        "payment_reference": str(payment.payment_reference),
        "order_reference": payment.order_reference,
        "status": payment.status,
        "amount": f"{payment.amount.normalize():f}",
        "currency": payment.currency,
        "capture_method": payment.capture_method,
        "captured_amount": f"{payment.captured_amount.normalize():f}",
        "refunded_amount": f"{payment.refunded_amount.normalize():f}",
        "checkout_url": checkout_url,
        "decline_code": DECLINE_CODE if declined else None,
        "decline_message": DECLINE_MESSAGE if declined else None,
        "operations": payment.operations,
    }


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise SandboxInvalid(f"not an amount: {value!r}") from exc
    if not amount.is_finite() or amount <= 0:
        raise SandboxInvalid(f"not a positive amount: {value!r}")
    return amount


async def get(
    session: AsyncSession, account: PaymentGateway, transaction_id: str
) -> SandboxTransaction:
    payment = await SandboxRepository(session).get(account.id, transaction_id)
    if payment is None:
        raise SandboxNotFound("no such sandbox payment")
    return payment
