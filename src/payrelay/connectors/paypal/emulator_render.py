"""The PayPal emulator's objects as PayPal's JSON (spec 2.2–2.4), with HATEOAS links."""

from __future__ import annotations

import html
import secrets
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from payrelay.connectors.paypal.emulator_rules import PaypalState
from payrelay.connectors.paypal.emulator_state import (
    ApiError,
    Authorization,
    Capture,
    Order,
    Refund,
    stamp,
    value_text,
)
from payrelay.connectors.paypal.transformers import WHOLE_AMOUNT_CURRENCIES

FEE_RATE, FEE_FIXED = Decimal("0.0349"), Decimal("0.49")  # [?] a typical PayPal checkout fee
MERCHANT = {"email_address": "merchant@example.com", "merchant_id": "7KNGBPH2U58GQ"}


def _link(href: str, rel: str, method: str = "GET") -> dict[str, str]:
    return {"href": href, "rel": rel, "method": method}


def amount(value: Decimal, currency: str) -> dict[str, str]:
    return {"currency_code": currency, "value": value_text(value, currency)}


def fee(gross: Decimal, currency: str) -> Decimal:
    unit = Decimal(1) if currency in WHOLE_AMOUNT_CURRENCIES else Decimal("0.01")
    return min(gross, (gross * FEE_RATE + FEE_FIXED).quantize(unit, rounding=ROUND_HALF_UP))


def approve_url(base: str, order: Order) -> str:
    return f"{base}/checkoutnow?token={order.id}"


def three_ds_url(base: str, order: Order) -> str:
    return f"{base}/checkoutnow/3ds?token={order.id}"


def error(exc: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": exc.name,
        "message": exc.message,
        "debug_id": secrets.token_hex(7),
    }
    if exc.issue:
        detail: dict[str, Any] = {"issue": exc.issue, "description": exc.description or ""}
        if exc.field:
            detail = {"field": exc.field, "location": "body", **detail}
        body["details"] = [detail]
        body["links"] = [
            _link(
                f"https://developer.paypal.com/docs/api/orders/v2/#error-{exc.issue}",
                "information_link",
            )
        ]
    return body


def order(state: PaypalState, found: Order, base: str, minimal: bool = False) -> dict[str, Any]:
    self_url = f"{base}/v2/checkout/orders/{found.id}"
    links = [_link(self_url, "self")]
    if found.status == "CREATED":
        links.append(_link(approve_url(base, found), "approve"))
    if found.status == "PAYER_ACTION_REQUIRED":
        links.append(_link(approve_url(base, found), "payer-action"))
    if found.status in ("CREATED", "APPROVED", "PAYER_ACTION_REQUIRED"):
        links.append(_link(self_url, "update", "PATCH"))
        action = "capture" if found.intent == "CAPTURE" else "authorize"
        links.append(_link(f"{self_url}/{action}", action, "POST"))
    body: dict[str, Any] = {"id": found.id, "status": found.status}
    if minimal:
        return {**body, "links": links}
    unit: dict[str, Any] = {**found.unit, "payee": MERCHANT}
    payments: dict[str, Any] = {}
    if found.authorizations:
        payments["authorizations"] = [
            authorization(state.authorizations[i], base) for i in found.authorizations
        ]
    if found.captures:
        payments["captures"] = [capture(state, state.captures[i], base) for i in found.captures]
        refunds = [r for c in found.captures for r in state.captures[c].refunds]
        if refunds:
            payments["refunds"] = [refund(state.refunds[r], base) for r in refunds]
    if payments:
        unit["payments"] = payments
    body.update(
        {
            "intent": found.intent,
            "purchase_units": [unit],
            "create_time": stamp(found.created_at),
            "update_time": stamp(found.updated_at),
            "links": links,
        }
    )
    if found.payer is not None:
        body["payer"] = found.payer
        body["payment_source"] = {
            "paypal": {
                "email_address": found.payer["email_address"],
                "account_id": found.payer["payer_id"],
                "account_status": "VERIFIED",
                "name": found.payer["name"],
            }
        }
    return body


def authorization(found: Authorization, base: str) -> dict[str, Any]:
    self_url = f"{base}/v2/payments/authorizations/{found.id}"
    body: dict[str, Any] = {
        "id": found.id,
        "status": found.status,
        "amount": amount(found.amount, found.currency),
        "seller_protection": {
            "status": "ELIGIBLE",
            "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
        },
        "supplementary_data": {"related_ids": {"order_id": found.order_id}},
        "expiration_time": stamp(found.created_at + 29 * 86400),
        "create_time": stamp(found.created_at),
        "update_time": stamp(found.updated_at),
        "links": [
            _link(self_url, "self"),
            _link(f"{self_url}/capture", "capture", "POST"),
            _link(f"{self_url}/void", "void", "POST"),
            _link(f"{self_url}/reauthorize", "reauthorize", "POST"),
            _link(f"{base}/v2/checkout/orders/{found.order_id}", "up"),
        ],
    }
    for name in ("custom_id", "invoice_id"):
        if getattr(found, name):
            body[name] = getattr(found, name)
    return body


def capture(state: PaypalState, found: Capture, base: str) -> dict[str, Any]:
    self_url = f"{base}/v2/payments/captures/{found.id}"
    paypal_fee = fee(found.amount, found.currency)
    related: dict[str, str] = {"order_id": found.order_id}
    if found.authorization_id:
        related["authorization_id"] = found.authorization_id
    up = (
        f"{base}/v2/payments/authorizations/{found.authorization_id}"
        if found.authorization_id
        else f"{base}/v2/checkout/orders/{found.order_id}"
    )
    body: dict[str, Any] = {
        "id": found.id,
        "status": found.status,
        "amount": amount(found.amount, found.currency),
        "final_capture": found.final_capture,
        "seller_protection": {"status": "ELIGIBLE"},
        "seller_receivable_breakdown": {
            "gross_amount": amount(found.amount, found.currency),
            "paypal_fee": amount(paypal_fee, found.currency),
            "net_amount": amount(found.amount - paypal_fee, found.currency),
        },
        "supplementary_data": {"related_ids": related},
        "create_time": stamp(found.created_at),
        "update_time": stamp(found.updated_at),
        "links": [
            _link(self_url, "self"),
            _link(f"{self_url}/refund", "refund", "POST"),
            _link(up, "up"),
        ],
    }
    if found.status == "PENDING":
        body["status_details"] = {"reason": "PENDING_REVIEW"}
    for name in ("custom_id", "invoice_id", "note"):
        value = getattr(found, name)
        if value:
            body["note_to_payer" if name == "note" else name] = value
    return body


def refund(found: Refund, base: str) -> dict[str, Any]:
    paypal_fee = Decimal(0)
    body: dict[str, Any] = {
        "id": found.id,
        "status": found.status,
        "amount": amount(found.amount, found.currency),
        "seller_payable_breakdown": {
            "gross_amount": amount(found.amount, found.currency),
            "paypal_fee": amount(paypal_fee, found.currency),
            "net_amount": amount(found.amount, found.currency),
        },
        "create_time": stamp(found.created_at),
        "update_time": stamp(found.updated_at),
        "links": [
            _link(f"{base}/v2/payments/refunds/{found.id}", "self"),
            _link(f"{base}/v2/payments/captures/{found.capture_id}", "up"),
        ],
    }
    for name in ("invoice_id", "custom_id", "note"):
        value = getattr(found, name)
        if value:
            body["note_to_payer" if name == "note" else name] = value
    return body


def resource(state: PaypalState, kind: str, resource_id: str, base: str) -> dict[str, Any]:
    if kind in ("order", "checkout-order"):
        return order(state, state.orders[resource_id], base)
    if kind == "authorization":
        return authorization(state.authorizations[resource_id], base)
    if kind == "capture":
        return capture(state, state.captures[resource_id], base)
    return refund(state.refunds[resource_id], base)


# --- the buyer's pages ---------------------------------------------------------------------

CHOICES = (
    ("balance", "Pay with PayPal balance"),
    ("card_3ds", "Pay by card (3-D Secure)"),
    ("declined", "Pay by card PayPal will decline"),
    ("cancel", "Cancel and return to the shop"),
)


def page(content: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>PayPal (emulator)</title></head><body>"
        f"<h1>PayPal (emulator)</h1>{content}</body></html>"
    )


def approve_page(found: Order) -> str:
    buttons = "".join(
        f"<button name='choice' value='{value}'>{html.escape(label)}</button> "
        for value, label in CHOICES
    )
    money = html.escape(f"{found.unit['amount']['value']} {found.currency}")
    return page(
        f"<p>Order <code>{html.escape(found.id)}</code>: {money} ({found.status})</p>"
        "<form method='post' action='/checkoutnow'>"
        f"<input type='hidden' name='token' value='{html.escape(found.id)}'>{buttons}</form>"
    )


def three_ds_page(found: Order) -> str:
    return page(
        "<p>Your bank asks you to confirm this payment (3-D Secure).</p>"
        "<form method='post' action='/checkoutnow/3ds'>"
        f"<input type='hidden' name='token' value='{html.escape(found.id)}'>"
        "<button name='choice' value='3ds_passed'>Confirm</button> "
        "<button name='choice' value='3ds_failed'>Fail the challenge</button></form>"
    )
