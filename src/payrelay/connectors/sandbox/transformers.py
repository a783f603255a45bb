"""Pure mapping between canonical types and the sandbox gateway's JSON."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from payrelay.connectors.base import (
    CreatePayment,
    Decline,
    NextAction,
    OperationOutcome,
    OperationResult,
    PaymentOutcome,
    PaymentResult,
)

PAYMENT_OUTCOMES: dict[str, PaymentOutcome] = {
    "created": PaymentOutcome.PENDING,
    "pending": PaymentOutcome.PENDING,
    "authorized": PaymentOutcome.AUTHORIZED,
    "captured": PaymentOutcome.CAPTURED,
    "partially_refunded": PaymentOutcome.CAPTURED,
    "refunded": PaymentOutcome.CAPTURED,
    "declined": PaymentOutcome.DECLINED,
    "voided": PaymentOutcome.VOIDED,
    "expired": PaymentOutcome.EXPIRED,
}


class MalformedResponse(ValueError):
    pass


def create_body(request: CreatePayment, notify_url: str) -> dict[str, Any]:
    return {
        "payment_reference": str(request.payment_id),
        "order_reference": request.order_reference,
        "amount": f"{request.amount:f}",
        "currency": request.currency,
        "capture_method": request.capture_method.value,
        "description": request.description,
        "return_url": request.return_url,
        "notify_url": notify_url,
    }


def operation_body(amount: Decimal | None, reason: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if amount is not None:
        body["amount"] = f"{amount:f}"
    if reason:
        body["reason"] = reason
    return body


def payment_outcome(status: str) -> PaymentOutcome:
    # An unknown status is treated as still pending: never guess money moved.
    return PAYMENT_OUTCOMES.get(status, PaymentOutcome.PENDING)


def payment_result(payment: Mapping[str, Any]) -> PaymentResult:
    try:
        status = str(payment["status"])
        checkout_url = payment.get("checkout_url")
        decline = None
        if payment.get("decline_code"):
            decline = Decline(
                code=str(payment["decline_code"]),
                message=str(payment.get("decline_message") or "Declined by the sandbox"),
                gateway_code=str(payment["decline_code"]),
            )
        outcome = payment_outcome(status)
        return PaymentResult(
            outcome=outcome,
            gateway_status=status.upper(),
            gateway_transaction_id=str(payment["id"]),
            gateway_reference_id=str(payment.get("order_reference") or "") or None,
            next_action=(
                NextAction("redirect", {"url": checkout_url})
                if checkout_url and outcome is PaymentOutcome.PENDING
                else None
            ),
            amount=_decimal(payment.get("amount")),
            captured_amount=_decimal(payment.get("captured_amount")),
            refunded_amount=_decimal(payment.get("refunded_amount")),
            decline=decline,
            operations={
                str(operation["idempotency_key"]): OperationOutcome.SUCCEEDED
                if operation.get("status") == "succeeded"
                else OperationOutcome.DECLINED
                for operation in payment.get("operations") or []
            },
            raw=dict(payment),
        )
    except (KeyError, TypeError) as exc:
        raise MalformedResponse(f"sandbox payment missing field: {exc}") from exc


def operation_result(body: Mapping[str, Any]) -> OperationResult:
    try:
        operation = body["operation"]
        succeeded = operation["status"] == "succeeded"
        return OperationResult(
            outcome=OperationOutcome.SUCCEEDED if succeeded else OperationOutcome.DECLINED,
            gateway_status=str(operation["status"]).upper(),
            gateway_operation_id=str(operation["id"]),
            decline=None
            if succeeded
            else Decline(
                code=str(operation.get("decline_code") or "declined"),
                message=str(operation.get("decline_message") or "Declined by the sandbox"),
            ),
            raw=dict(body),
        )
    except (KeyError, TypeError) as exc:
        raise MalformedResponse(f"sandbox operation missing field: {exc}") from exc


def rejected_payment(status_code: int, body: Mapping[str, Any]) -> PaymentResult:
    """A 4xx on create or status: the gateway refused; nothing was or will be charged."""
    decline = _error_decline(status_code, body, "The sandbox refused the payment")
    return PaymentResult(
        outcome=PaymentOutcome.DECLINED,
        gateway_status=f"HTTP_{status_code}",
        decline=decline,
        found=status_code != 404,
        raw=dict(body),
    )


def _error_decline(status_code: int, body: Mapping[str, Any], fallback: str) -> Decline:
    error = body.get("error")
    if not isinstance(error, Mapping):
        error = {}
    return Decline(
        code=str(error.get("code") or "rejected"),
        message=str(error.get("message") or fallback),
        gateway_code=str(status_code),
    )


def rejected_operation(status_code: int, body: Mapping[str, Any]) -> OperationResult:
    """A 4xx from the sandbox: the gateway refused the operation (a decline, not a fault)."""
    return OperationResult(
        outcome=OperationOutcome.DECLINED,
        gateway_status=f"HTTP_{status_code}",
        decline=_error_decline(status_code, body, "The sandbox refused the operation"),
        raw=dict(body),
    )


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise MalformedResponse(f"not an amount: {value!r}") from exc
