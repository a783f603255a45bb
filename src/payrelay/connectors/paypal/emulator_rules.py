"""What the PayPal emulator does with each call: orders, approvals, authorizations, captures,
refunds, tokens and `PayPal-Request-Id`s (spec 2.1–2.5). Events to notify are queued in
`events` as (event type, resource kind, resource id) for the HTTP layer to send."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from payrelay.connectors.paypal.emulator_state import (
    DAY,
    ApiError,
    Authorization,
    Capture,
    Clock,
    Options,
    Order,
    Refund,
    Stored,
    in_progress,
    invalid,
    money,
    new_id,
    not_found,
    text,
    unauthenticated,
    unprocessable,
    url,
)

FUNDING = ("balance", "declined", "card_3ds")


class ControlError(Exception):
    """A bad control request (the emulator's own API, not PayPal's)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class PaypalState:
    def __init__(self, options: Options, clock: Clock | None = None) -> None:
        self.options = options
        self.clock = clock or Clock()
        self.tokens: dict[str, tuple[str, float]] = {}  # token → (client id, expires at)
        self.orders: dict[str, Order] = {}
        self.authorizations: dict[str, Authorization] = {}
        self.captures: dict[str, Capture] = {}
        self.refunds: dict[str, Refund] = {}
        self.requests: dict[tuple[str, str], Stored] = {}
        self.events: list[tuple[str, str, str]] = []
        self.calls: list[dict[str, Any]] = []
        self.faults: dict[str, list[str]] = {}
        self.verify_result = options.verify_result

    # --- OAuth2 (spec 2.1) -------------------------------------------------------------------

    def issue_token(self, client_id: str) -> dict[str, Any]:
        token = "A21AA" + secrets.token_urlsafe(48)
        self.tokens[token] = (client_id, self.clock() + self.options.token_ttl_seconds)
        return {
            "scope": "https://uri.paypal.com/services/payments/payment "
            "https://uri.paypal.com/services/payments/refund",
            "access_token": token,
            "token_type": "Bearer",
            "app_id": "APP-80W284485P519543T",
            "expires_in": self.options.token_ttl_seconds,
            "nonce": f"{self.clock():.0f}-{secrets.token_hex(8)}",
        }

    def authenticate(self, authorization: str | None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        found = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if found is None or found[1] <= self.clock():
            raise unauthenticated()
        return found[0]

    def revoke_tokens(self) -> int:
        count = len(self.tokens)
        self.tokens.clear()
        return count

    # --- PayPal-Request-Id (spec 2.5) --------------------------------------------------------

    def begin(self, client_id: str, request_id: str | None, kind: str) -> Stored | None:
        """None: go ahead; otherwise what the first request with this id made."""
        if not request_id:
            return None
        if len(request_id) > 108:
            raise invalid("INVALID_STRING_LENGTH", "PayPal-Request-Id is 1 to 108 characters.")
        stored = self.requests.get((client_id, request_id))
        if stored is None:
            self.requests[(client_id, request_id)] = Stored(kind)
            return None
        if stored.resource_id is None:
            raise in_progress()
        return stored

    def finish(self, client_id: str, request_id: str | None, resource_id: str | None) -> None:
        """Keep what a successful request made; a refused one keeps nothing (sent again, it
        runs again)."""
        if not request_id:
            return
        if resource_id is None:
            self.requests.pop((client_id, request_id), None)
        else:
            self.requests[(client_id, request_id)].resource_id = resource_id

    # --- lookups ------------------------------------------------------------------------------

    def order(self, client_id: str, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None or order.client_id != client_id:
            raise not_found()
        return order

    def authorization(self, client_id: str, authorization_id: str) -> Authorization:
        found = self.authorizations.get(authorization_id)
        if found is None or self.orders[found.order_id].client_id != client_id:
            raise not_found()
        self._age(found)
        return found

    def capture(self, client_id: str, capture_id: str) -> Capture:
        found = self.captures.get(capture_id)
        if found is None or self.orders[found.order_id].client_id != client_id:
            raise not_found()
        return found

    def refund(self, client_id: str, refund_id: str) -> Refund:
        found = self.refunds.get(refund_id)
        if found is None or self.orders[found.order_id].client_id != client_id:
            raise not_found()
        return found

    def _age(self, found: Authorization) -> None:
        """Time passes lazily: an authorization past its validity is released (spec 2.3)."""
        expires = found.created_at + self.options.authorization_days * DAY
        if found.status in ("CREATED", "PARTIALLY_CAPTURED") and self.clock() > expires:
            found.status = self.options.expired_authorization_status
            found.updated_at = self.clock()
            self.events.append(("PAYMENT.AUTHORIZATION.VOIDED", "authorization", found.id))

    # --- orders (spec 2.2) --------------------------------------------------------------------

    def create_order(self, client_id: str, body: Mapping[str, Any]) -> Order:
        intent = body.get("intent")
        if intent is None:
            raise invalid("MISSING_REQUIRED_PARAMETER", "A required field is missing.", "/intent")
        if intent not in ("CAPTURE", "AUTHORIZE"):
            raise invalid("INVALID_PARAMETER_VALUE", "The value of a field is invalid.", "/intent")
        units = body.get("purchase_units")
        if not isinstance(units, list) or not units:
            raise invalid(
                "MISSING_REQUIRED_PARAMETER", "A required field is missing.", "/purchase_units"
            )
        if len(units) > 10:
            raise invalid(
                "INVALID_ARRAY_MAX_ITEMS", "The number of items exceeds 10.", "/purchase_units"
            )
        if len(units) > 1:
            raise unprocessable(
                "UNSUPPORTED_BY_EMULATOR",
                "The emulator takes one purchase unit.",
                "/purchase_units",
            )
        unit = units[0]
        if not isinstance(unit, Mapping):
            raise invalid("INVALID_PARAMETER_SYNTAX", "A purchase unit is an object.")
        path = "/purchase_units/@reference_id=='default'"
        amount, currency = money(unit.get("amount"), f"{path}/amount")
        kept: dict[str, Any] = {"amount": dict(unit["amount"])}
        for name, limit in (
            ("reference_id", 256),
            ("custom_id", 127),
            ("invoice_id", 127),
            ("description", 127),
        ):
            value = text(unit, name, limit, f"{path}/{name}")
            if value is not None:
                kept[name] = value
        kept.setdefault("reference_id", "default")
        return_url, cancel_url = self._urls(body)
        now = self.clock()
        order = Order(
            id=new_id(),
            client_id=client_id,
            intent=str(intent),
            status="CREATED",
            unit=kept,
            amount=amount,
            currency=currency,
            return_url=return_url,
            cancel_url=cancel_url,
            created_at=now,
            updated_at=now,
        )
        if "payment_source" in body and self.options.create_status == "PAYER_ACTION_REQUIRED":
            order.status = "PAYER_ACTION_REQUIRED"
        self.orders[order.id] = order
        return order

    @staticmethod
    def _urls(body: Mapping[str, Any]) -> tuple[str, str]:
        source = body.get("payment_source")
        context: Any = None
        if isinstance(source, Mapping):
            paypal = source.get("paypal")
            if not isinstance(paypal, Mapping):
                raise invalid(
                    "UNSUPPORTED_PAYMENT_SOURCE", "The emulator takes PayPal.", "/payment_source"
                )
            context, prefix = paypal.get("experience_context"), "/payment_source/paypal/"
            prefix += "experience_context"
        else:
            context, prefix = body.get("application_context"), "/application_context"
        if not isinstance(context, Mapping) or "return_url" not in context:
            raise invalid(
                "MISSING_REQUIRED_PARAMETER", "return_url is required.", f"{prefix}/return_url"
            )
        return_url = url(context["return_url"], f"{prefix}/return_url")
        cancel_url = url(context.get("cancel_url", return_url), f"{prefix}/cancel_url")
        return return_url, cancel_url

    def _open(self, order: Order, action: str) -> None:
        """The checks before an approved order is captured or authorized."""
        if order.intent != action:
            raise unprocessable(
                "ACTION_DOES_NOT_MATCH_INTENT",
                f"Order was created with an intent to '{order.intent}'. Please use "
                f"v2/checkout/orders/order_id/{order.intent.lower()} to complete the order.",
            )
        if order.status == "COMPLETED":
            issue = "ORDER_ALREADY_CAPTURED" if action == "CAPTURE" else "ORDER_ALREADY_AUTHORIZED"
            raise unprocessable(issue, "Order already completed.")
        if self.clock() > order.created_at + self.options.order_ttl_seconds:
            raise unprocessable("ORDER_EXPIRED", "The order has expired.")
        if order.status != "APPROVED":
            raise unprocessable(
                "ORDER_NOT_APPROVED",
                "Payer has not yet approved the Order for payment. Please redirect the payer to "
                "the 'rel':'approve' url returned as part of the HATEOAS links.",
            )
        if order.funding == "declined":
            raise unprocessable(
                "INSTRUMENT_DECLINED",
                "The instrument presented was either declined by the processor or bank, or it "
                "can't be used for this payment.",
            )

    def capture_order(self, order: Order) -> Capture:
        self._open(order, "CAPTURE")
        now = self.clock()
        capture = Capture(
            id=new_id(),
            order_id=order.id,
            authorization_id=None,
            amount=order.amount,
            currency=order.currency,
            status=order.capture_status,
            final_capture=True,
            created_at=now,
            updated_at=now,
            custom_id=order.unit.get("custom_id"),
            invoice_id=order.unit.get("invoice_id"),
        )
        self.captures[capture.id] = capture
        order.captures.append(capture.id)
        order.status, order.updated_at = "COMPLETED", now
        self.events.append((_capture_event(capture.status), "capture", capture.id))
        return capture

    def authorize_order(self, order: Order) -> Authorization:
        self._open(order, "AUTHORIZE")
        now = self.clock()
        found = Authorization(
            id=new_id(),
            order_id=order.id,
            amount=order.amount,
            currency=order.currency,
            status="CREATED",
            created_at=now,
            updated_at=now,
            custom_id=order.unit.get("custom_id"),
            invoice_id=order.unit.get("invoice_id"),
        )
        self.authorizations[found.id] = found
        order.authorizations.append(found.id)
        order.status, order.updated_at = "COMPLETED", now
        self.events.append(("PAYMENT.AUTHORIZATION.CREATED", "authorization", found.id))
        return found

    # --- the buyer ------------------------------------------------------------------------------

    def approve(self, order: Order, funding: str) -> bool:
        """The buyer approves with `funding`; False when a 3-D Secure challenge comes first
        (the order is approved once the buyer passes it)."""
        if funding not in FUNDING:
            raise ControlError(422, f"funding must be one of {', '.join(FUNDING)}")
        if order.status not in ("CREATED", "PAYER_ACTION_REQUIRED") or order.payer:
            raise ControlError(409, f"the order is {order.status}: nothing to approve")
        order.funding = funding
        if funding == "card_3ds" and not order.three_ds_passed:
            return False
        self._approve(order)
        return True

    def three_ds(self, order: Order, passed: bool) -> bool:
        """The buyer's 3-D Secure challenge: passed, the order is approved; failed, the buyer
        is back where they started (and PayPal's page would offer another way to pay)."""
        if order.funding != "card_3ds" or order.payer:
            raise ControlError(409, "no 3-D Secure challenge is waiting for this order")
        if not passed:
            order.funding = ""
            return False
        order.three_ds_passed = True
        self._approve(order)
        return True

    def _approve(self, order: Order) -> None:
        order.payer = {
            "name": {"given_name": "John", "surname": "Doe"},
            "email_address": "buyer@example.com",
            "payer_id": new_id(13),
            "address": {"country_code": "US"},
        }
        self._approved(order)

    def _approved(self, order: Order) -> None:
        order.status, order.updated_at = "APPROVED", self.clock()
        self.events.append(("CHECKOUT.ORDER.APPROVED", "checkout-order", order.id))

    # --- payments (spec 2.3) --------------------------------------------------------------------

    def capture_authorization(self, found: Authorization, body: Mapping[str, Any]) -> Capture:
        problems = {
            "VOIDED": ("AUTHORIZATION_VOIDED", "A voided authorization cannot be captured."),
            "EXPIRED": ("AUTHORIZATION_EXPIRED", "An expired authorization cannot be captured."),
            "DENIED": ("AUTHORIZATION_DENIED", "A denied authorization cannot be captured."),
            "CAPTURED": ("AUTHORIZATION_ALREADY_CAPTURED", "Authorization has been captured."),
        }
        if found.status in problems:
            raise unprocessable(*problems[found.status])
        if len(found.captures) >= self.options.max_captures:
            raise unprocessable("MAX_CAPTURE_COUNT_EXCEEDED", "Maximum number of captures reached.")
        if body.get("amount") is None:
            amount = found.amount - found.captured
        else:
            try:
                amount, _ = money(body["amount"], "/amount", found.currency)
            except ApiError as exc:
                if exc.issue == "CURRENCY_MISMATCH":
                    raise unprocessable(
                        "AUTH_CAPTURE_CURRENCY_MISMATCH", "Currency does not match.", "/amount"
                    ) from None
                raise
        ceiling = found.amount * (100 + self.options.capture_overage_percent) / 100
        if found.captured + amount > ceiling:
            raise unprocessable(
                "MAX_CAPTURE_AMOUNT_EXCEEDED", "Capture amount exceeds allowable limit."
            )
        final = body.get("final_capture", False)
        if not isinstance(final, bool):
            raise invalid("INVALID_PARAMETER_SYNTAX", "final_capture is a boolean.")
        invoice_id = text(body, "invoice_id", 127, "/invoice_id")
        order = self.orders[found.order_id]
        if invoice_id and any(
            c.invoice_id == invoice_id
            for c in self.captures.values()
            if self.orders[c.order_id].client_id == order.client_id
        ):
            raise unprocessable("DUPLICATE_INVOICE_ID", "Requested invoice number was used.")
        now = self.clock()
        capture = Capture(
            id=new_id(),
            order_id=found.order_id,
            authorization_id=found.id,
            amount=amount,
            currency=found.currency,
            status=order.capture_status,
            final_capture=final,
            created_at=now,
            updated_at=now,
            custom_id=found.custom_id,
            invoice_id=invoice_id or found.invoice_id,
            note=text(body, "note_to_payer", 255, "/note_to_payer"),
        )
        self.captures[capture.id] = capture
        found.captures.append(capture.id)
        order.captures.append(capture.id)
        found.captured += amount
        full = final or found.captured >= found.amount
        found.status, found.updated_at = ("CAPTURED" if full else "PARTIALLY_CAPTURED"), now
        self.events.append((_capture_event(capture.status), "capture", capture.id))
        return capture

    def void(self, found: Authorization) -> Authorization:
        if found.status in ("VOIDED", "EXPIRED"):
            raise unprocessable("PREVIOUSLY_VOIDED", "Authorization has been previously voided.")
        if found.captures:
            raise unprocessable(
                "PREVIOUSLY_CAPTURED", "Authorization has been previously captured."
            )
        if found.status != "CREATED":
            raise unprocessable("CANNOT_BE_VOIDED", "This authorization cannot be voided.")
        found.status, found.updated_at = "VOIDED", self.clock()
        self.events.append(("PAYMENT.AUTHORIZATION.VOIDED", "authorization", found.id))
        return found

    def refund_capture(self, capture: Capture, body: Mapping[str, Any]) -> Refund:
        if capture.status == "REFUNDED":
            raise unprocessable(
                "CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded."
            )
        if capture.status == "PENDING":
            raise unprocessable(
                "PENDING_CAPTURE", "Cannot initiate a refund as the capture is pending."
            )
        if capture.status != "PARTIALLY_REFUNDED" and capture.status != "COMPLETED":
            raise unprocessable("REFUND_NOT_ALLOWED", "Refund cannot be issued for this capture.")
        if self.clock() > capture.created_at + self.options.refund_days * DAY:
            raise unprocessable("REFUND_TIME_LIMIT_EXCEEDED", "The refund time limit has passed.")
        if len(capture.refunds) >= self.options.max_refunds:
            raise unprocessable(
                "MAX_NUMBER_OF_REFUNDS_EXCEEDED", "Too many refunds for this capture."
            )
        left = capture.amount - capture.refunded(self.refunds)
        if body.get("amount") is None:
            amount = left
        else:
            try:
                amount, _ = money(body["amount"], "/amount", capture.currency)
            except ApiError as exc:
                if exc.issue == "CURRENCY_MISMATCH":
                    raise unprocessable(
                        "REFUND_CAPTURE_CURRENCY_MISMATCH", "Currency does not match.", "/amount"
                    ) from None
                raise
        if amount > left:
            raise unprocessable(
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture amount that has "
                "not yet been refunded.",
            )
        now = self.clock()
        refund = Refund(
            id=new_id(),
            capture_id=capture.id,
            order_id=capture.order_id,
            amount=amount,
            currency=capture.currency,
            status="COMPLETED",
            created_at=now,
            updated_at=now,
            invoice_id=text(body, "invoice_id", 127, "/invoice_id"),
            custom_id=text(body, "custom_id", 127, "/custom_id"),
            note=text(body, "note_to_payer", 255, "/note_to_payer"),
        )
        self.refunds[refund.id] = refund
        capture.refunds.append(refund.id)
        full = capture.refunded(self.refunds) >= capture.amount
        capture.status, capture.updated_at = ("REFUNDED" if full else "PARTIALLY_REFUNDED"), now
        self.events.append(("PAYMENT.CAPTURE.REFUNDED", "refund", refund.id))
        return refund

    def take_fault(self, operation: str) -> str | None:
        queued = self.faults.get(operation)
        return queued.pop(0) if queued else None

    def take_events(self) -> list[tuple[str, str, str]]:
        events, self.events = self.events, []
        return events


def _capture_event(status: str) -> str:
    return {
        "COMPLETED": "PAYMENT.CAPTURE.COMPLETED",
        "PENDING": "PAYMENT.CAPTURE.PENDING",
        "DECLINED": "PAYMENT.CAPTURE.DECLINED",
    }.get(status, "PAYMENT.CAPTURE.COMPLETED")


def refundable(capture: Capture, refunds: Mapping[str, Refund]) -> Decimal:
    return capture.amount - capture.refunded(refunds)
