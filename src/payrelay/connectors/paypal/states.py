"""PayPal's objects (order, authorization, capture, refund) read as canonical results. No I/O.

An order's own `status` says little once it is `COMPLETED` (spec 2.2): what happened to the money
is in `purchase_units[].payments` — the authorizations, captures and refunds, each with its own
status. Anything not known for certain is pending: money never moves on a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from payrelay.connectors.base import (
    Decline,
    OperationOutcome,
    OperationResult,
    PaymentOutcome,
    PaymentResult,
)
from payrelay.connectors.paypal.transformers import MalformedResponse, link, read_money, redirect

ORDER_STATUSES = frozenset(
    {"CREATED", "SAVED", "APPROVED", "VOIDED", "COMPLETED", "PAYER_ACTION_REQUIRED"}
)
AUTHORIZATION_STATUSES = frozenset(
    {"CREATED", "CAPTURED", "DENIED", "PARTIALLY_CAPTURED", "VOIDED", "PENDING", "EXPIRED"}
)
CAPTURE_STATUSES = frozenset(
    {"COMPLETED", "DECLINED", "PARTIALLY_REFUNDED", "PENDING", "REFUNDED", "FAILED"}
)
REFUND_STATUSES = frozenset({"CANCELLED", "FAILED", "PENDING", "COMPLETED"})

CAPTURE_DONE = frozenset({"COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"})
CAPTURE_FAILED = frozenset({"DECLINED", "FAILED"})
REFUND_FAILED = frozenset({"CANCELLED", "FAILED"})


@dataclass(frozen=True, slots=True)
class Item:
    """One authorization, capture or refund of an order."""

    id: str
    status: str
    amount: Decimal | None
    invoice_id: str | None
    reason: str | None
    raw: Mapping[str, Any]


def _status(resource: Mapping[str, Any], known: frozenset[str], what: str) -> str:
    status = resource.get("status")
    if not isinstance(status, str) or status not in known:
        raise MalformedResponse(f"PayPal {what} status unknown: {status!r}")
    return status


def item(resource: Any, known: frozenset[str], what: str) -> Item:
    if not isinstance(resource, Mapping) or not isinstance(resource.get("id"), str):
        raise MalformedResponse(f"PayPal {what} without an id")
    details = resource.get("status_details")
    reason = details.get("reason") if isinstance(details, Mapping) else None
    invoice_id = resource.get("invoice_id")
    return Item(
        id=resource["id"],
        status=_status(resource, known, what),
        amount=read_money(resource.get("amount")),
        invoice_id=invoice_id if isinstance(invoice_id, str) else None,
        reason=reason if isinstance(reason, str) else None,
        raw=resource,
    )


@dataclass(frozen=True, slots=True)
class Payments:
    """`purchase_units[0]` of an order: its amount and what happened to the money."""

    amount: Decimal | None
    custom_id: str | None
    authorizations: list[Item]
    captures: list[Item]
    refunds: list[Item]

    @property
    def captured(self) -> Decimal:
        done = (c.amount or Decimal(0) for c in self.captures if c.status in CAPTURE_DONE)
        return sum(done, start=Decimal(0))

    @property
    def refunded(self) -> Decimal:
        done = (r.amount or Decimal(0) for r in self.refunds if r.status == "COMPLETED")
        return sum(done, start=Decimal(0))

    def operations(self) -> dict[str, OperationOutcome]:
        """Our captures and refunds (their `invoice_id` is our key), once final."""
        found: dict[str, OperationOutcome] = {}
        for capture in self.captures:
            if capture.invoice_id and capture.status != "PENDING":
                failed = capture.status in CAPTURE_FAILED
                found[capture.invoice_id] = (
                    OperationOutcome.DECLINED if failed else OperationOutcome.SUCCEEDED
                )
        for refund in self.refunds:
            if refund.invoice_id and refund.status != "PENDING":
                failed = refund.status in REFUND_FAILED
                found[refund.invoice_id] = (
                    OperationOutcome.DECLINED if failed else OperationOutcome.SUCCEEDED
                )
        return found


def payments_of(order: Mapping[str, Any]) -> Payments:
    units = order.get("purchase_units")
    if not isinstance(units, list) or not units or not isinstance(units[0], Mapping):
        return Payments(None, None, [], [], [])
    unit = units[0]
    found = unit.get("payments")
    payments: Mapping[str, Any] = found if isinstance(found, Mapping) else {}

    def listed(name: str, known: frozenset[str], what: str) -> list[Item]:
        values = payments.get(name) or []
        if not isinstance(values, list):
            raise MalformedResponse(f"PayPal {name} is not a list")
        return [item(value, known, what) for value in values]

    custom_id = unit.get("custom_id")
    return Payments(
        amount=read_money(unit.get("amount")),
        custom_id=custom_id if isinstance(custom_id, str) else None,
        authorizations=listed("authorizations", AUTHORIZATION_STATUSES, "authorization"),
        captures=listed("captures", CAPTURE_STATUSES, "capture"),
        refunds=listed("refunds", REFUND_STATUSES, "refund"),
    )


def decline(code: str, message: str, gateway_code: str | None = None) -> Decline:
    return Decline(code=code, message=message, gateway_code=gateway_code or code.upper())


def order_result(order: Mapping[str, Any]) -> PaymentResult:
    """An order (create, show, capture, authorize answer) as the payment's state."""
    order_id = order.get("id")
    if not isinstance(order_id, str) or not order_id:
        raise MalformedResponse("PayPal order without an id")
    status = _status(order, ORDER_STATUSES, "order")
    payments = payments_of(order)
    common: dict[str, Any] = {
        "gateway_transaction_id": order_id,
        "operations": payments.operations(),
        "refunded_amount": payments.refunded,
        "raw": dict(order),
    }
    captured = payments.captured
    if captured > 0:
        last = next(c for c in reversed(payments.captures) if c.status in CAPTURE_DONE)
        return PaymentResult(
            outcome=PaymentOutcome.CAPTURED,
            gateway_status=last.status,
            gateway_reference_id=last.id,
            amount=captured,
            captured_amount=captured,
            **common,
        )
    if any(c.status == "PENDING" for c in payments.captures):
        return PaymentResult(outcome=PaymentOutcome.PENDING, gateway_status="PENDING", **common)
    if payments.authorizations:
        return _authorization_state(payments.authorizations[-1], common)
    if payments.captures:  # every capture declined or failed
        last_capture = payments.captures[-1]
        return PaymentResult(
            outcome=PaymentOutcome.DECLINED,
            gateway_status=last_capture.status,
            gateway_reference_id=last_capture.id,
            decline=decline(
                (last_capture.reason or "declined").lower(),
                "PayPal declined the payment",
                last_capture.reason or last_capture.status,
            ),
            **common,
        )
    if status == "APPROVED":
        return PaymentResult(
            outcome=PaymentOutcome.APPROVED, gateway_status=status, amount=payments.amount, **common
        )
    if status == "VOIDED":
        return PaymentResult(outcome=PaymentOutcome.CANCELLED, gateway_status=status, **common)
    action = link(order, "payer-action", "approve")
    return PaymentResult(
        outcome=PaymentOutcome.PENDING,
        gateway_status=status,
        next_action=redirect(action) if action and status != "COMPLETED" else None,
        amount=payments.amount,
        **common,
    )


def _authorization_state(auth: Item, common: dict[str, Any]) -> PaymentResult:
    if auth.status in ("CREATED", "PARTIALLY_CAPTURED", "CAPTURED"):
        outcome = PaymentOutcome.AUTHORIZED
    elif auth.status == "VOIDED":
        outcome = PaymentOutcome.VOIDED
    elif auth.status == "EXPIRED":
        outcome = PaymentOutcome.VOIDED  # PayPal released the hold: nothing can be captured
    elif auth.status == "DENIED":
        return PaymentResult(
            outcome=PaymentOutcome.DECLINED,
            gateway_status=auth.status,
            gateway_reference_id=auth.id,
            decline=decline(
                (auth.reason or "authorization_denied").lower(),
                "PayPal denied the authorization",
                auth.reason or auth.status,
            ),
            **common,
        )
    else:  # PENDING (review)
        outcome = PaymentOutcome.PENDING
    return PaymentResult(
        outcome=outcome,
        gateway_status=auth.status,
        gateway_reference_id=auth.id,
        amount=auth.amount,
        **common,
    )


def capture_result(resource: Mapping[str, Any]) -> OperationResult:
    capture = item(resource, CAPTURE_STATUSES, "capture")
    if capture.status in CAPTURE_DONE:
        outcome = OperationOutcome.SUCCEEDED
    elif capture.status == "PENDING":
        outcome = OperationOutcome.PENDING
    else:
        return _failed(capture, "capture_declined", "PayPal declined the capture")
    return OperationResult(
        outcome=outcome,
        gateway_status=capture.status,
        gateway_operation_id=capture.id,
        raw=dict(resource),
    )


def refund_result(resource: Mapping[str, Any]) -> OperationResult:
    refund = item(resource, REFUND_STATUSES, "refund")
    if refund.status in REFUND_FAILED:
        return _failed(refund, "refund_failed", "PayPal did not make the refund")
    return OperationResult(
        outcome=OperationOutcome.SUCCEEDED
        if refund.status == "COMPLETED"
        else OperationOutcome.PENDING,
        gateway_status=refund.status,
        gateway_operation_id=refund.id,
        raw=dict(resource),
    )


def voided(auth: Item) -> OperationResult:
    return OperationResult(
        outcome=OperationOutcome.SUCCEEDED,
        gateway_status=auth.status,
        gateway_operation_id=auth.id,
        raw=dict(auth.raw),
    )


def _failed(found: Item, code: str, message: str) -> OperationResult:
    return OperationResult(
        outcome=OperationOutcome.DECLINED,
        gateway_status=found.status,
        gateway_operation_id=found.id,
        decline=decline((found.reason or code).lower(), message, found.reason or found.status),
        raw=dict(found.raw),
    )
