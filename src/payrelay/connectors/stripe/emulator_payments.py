"""The Stripe emulator's PaymentIntents: the customer paying on the hosted page (test cards,
3-D Secure), then capture, cancel and Stripe's own expiry of an authorization.

Each API function takes the decoded parameters, checks them the way Stripe does, changes the
account's objects and queues the events Stripe would send; it raises `StripeError` with Stripe's
codes otherwise (spec 1.2, 1.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payrelay.connectors.stripe import emulator_wire as wire
from payrelay.connectors.stripe.emulator_state import (
    Account,
    Context,
    ControlError,
    StripeState,
    public,
)
from payrelay.connectors.stripe.emulator_wire import StripeError, new_id

CANCELLABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
)
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
DECLINE = "decline"
# Stripe's test cards (spec 1.3): what the emulator's card form does with each number.
CARDS: dict[str, tuple[str, str | None, str | None, str]] = {
    "4242424242424242": ("success", None, None, ""),
    "4000000000000002": (DECLINE, "card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": (
        DECLINE,
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "4000000000000069": (DECLINE, "expired_card", None, "Your card has expired."),
    "4000000000000127": (DECLINE, "incorrect_cvc", None, "Your card's security code is incorrect."),
    "4000000000000119": (
        DECLINE,
        "processing_error",
        None,
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "4000002500003155": ("3ds", None, None, ""),
    "4000000000003220": ("3ds", None, None, ""),
}
UNKNOWN_CARD = (DECLINE, "incorrect_number", None, "Your card number is incorrect.")


@dataclass(frozen=True, slots=True)
class Attempt:
    status: str  # succeeded | declined | requires_action
    redirect: str | None
    error: str | None = None


# --- the customer on the hosted page -------------------------------------------------------


def attempt(state: StripeState, account: Account, session: dict[str, Any], card: str) -> Attempt:
    """The customer pays with `card` (a Stripe test card number)."""
    if session["status"] != "open":
        raise ControlError(409, f"this Checkout Session is {session['status']}")
    intent = _intent_for(state, account, session)
    if intent["status"] not in ("requires_payment_method", "requires_action"):
        raise ControlError(409, f"the PaymentIntent is {intent['status']}")
    number = "".join(card.split())
    kind, code, decline_code, message = CARDS.get(number, UNKNOWN_CARD)
    if kind == "3ds":
        account.pending_cards[intent["id"]] = number
        intent["status"] = "requires_action"
        intent["next_action"] = {
            "type": "redirect_to_url",
            "redirect_to_url": {
                "url": f"{session['_base']}/3ds/{intent['id']}",
                "return_url": session["url"],
            },
        }
        state.emit(account, "payment_intent.requires_action", public(intent))
        return Attempt("requires_action", intent["next_action"]["redirect_to_url"]["url"])
    if kind == DECLINE:
        assert code is not None
        _decline(state, account, intent, number, code, decline_code, message)
        return Attempt("declined", None, message)
    return _succeed(state, account, session, intent, number)


def authenticate(state: StripeState, account: Account, intent: dict[str, Any], ok: bool) -> Attempt:
    """The customer completes (or fails) the 3-D Secure challenge."""
    if intent["status"] != "requires_action":
        raise ControlError(409, f"the PaymentIntent is {intent['status']}, not requires_action")
    session = next(s for s in account.sessions.values() if s["payment_intent"] == intent["id"])
    number = account.pending_cards.pop(intent["id"], "4000002500003155")
    if ok:
        return _succeed(state, account, session, intent, number)
    intent["status"] = "requires_payment_method"
    intent["next_action"] = None
    intent["last_payment_error"] = {
        "type": "invalid_request_error",
        "code": "payment_intent_authentication_failure",
        "message": "We are unable to authenticate your payment method. Please choose a "
        "different payment method and try again.",
        "doc_url": f"{wire.DOCS}/payment-intent-authentication-failure",
    }
    state.emit(account, "payment_intent.payment_failed", public(intent))
    return Attempt("declined", None, intent["last_payment_error"]["message"])


def _intent_for(state: StripeState, account: Account, session: dict[str, Any]) -> dict[str, Any]:
    """The session's PaymentIntent, made at the first attempt (as Checkout does)."""
    if session["payment_intent"] is not None:
        intent: dict[str, Any] = account.intents[session["payment_intent"]]
        return intent
    data = session["_intent_data"]
    intent_id = new_id("pi")
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": session["amount_total"],
        "amount_capturable": 0,
        "amount_received": 0,
        "capture_method": data["capture_method"],
        "cancellation_reason": None,
        "canceled_at": None,
        "client_secret": f"{intent_id}_secret_{new_id('x')[2:]}",
        "confirmation_method": "automatic",
        "created": state.now(),
        "currency": session["currency"],
        "description": data["description"],
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": account.livemode,
        "metadata": dict(data["metadata"]),
        "next_action": None,
        "payment_method": None,
        "payment_method_types": ["card"],
        "status": "requires_payment_method",
    }
    account.intents[intent_id] = state.own(account, intent)
    session["payment_intent"] = intent_id
    state.emit(account, "payment_intent.created", public(intent))
    return intent


def _charge(
    state: StripeState, account: Account, intent: dict[str, Any], number: str
) -> dict[str, Any]:
    charge = {
        "id": new_id("ch"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": 0,
        "amount_refunded": 0,
        "captured": False,
        "created": state.now(),
        "currency": intent["currency"],
        "failure_code": None,
        "failure_message": None,
        "livemode": account.livemode,
        "metadata": dict(intent["metadata"]),
        "outcome": None,
        "paid": False,
        "payment_intent": intent["id"],
        "payment_method": intent["payment_method"],
        "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": number[-4:]}},
        "refunded": False,
        "status": "pending",
    }
    account.charges[charge["id"]] = state.own(account, charge)
    intent["latest_charge"] = charge["id"]
    return charge


def _decline(
    state: StripeState,
    account: Account,
    intent: dict[str, Any],
    number: str,
    code: str,
    decline_code: str | None,
    message: str,
) -> None:
    intent["payment_method"] = new_id("pm")
    charge = _charge(state, account, intent, number)
    charge.update(
        status="failed",
        failure_code=code,
        failure_message=message,
        outcome={"type": "issuer_declined", "network_status": "declined_by_network"},
    )
    error: dict[str, Any] = {
        "type": "card_error",
        "code": code,
        "message": message,
        "charge": charge["id"],
        "doc_url": f"{wire.DOCS}/{code.replace('_', '-')}",
    }
    if decline_code is not None:
        error["decline_code"] = decline_code
    intent.update(status="requires_payment_method", next_action=None, last_payment_error=error)
    state.emit(account, "charge.failed", public(charge))
    state.emit(account, "payment_intent.payment_failed", public(intent))


def _succeed(
    state: StripeState,
    account: Account,
    session: dict[str, Any],
    intent: dict[str, Any],
    number: str,
) -> Attempt:
    intent["payment_method"] = new_id("pm")
    charge = _charge(state, account, intent, number)
    manual = intent["capture_method"] == "manual"
    charge.update(
        status="succeeded",
        paid=True,
        captured=not manual,
        amount_captured=0 if manual else charge["amount"],
        outcome={"type": "authorized", "network_status": "approved_by_network"},
    )
    intent.update(next_action=None, last_payment_error=None)
    state.emit(account, "charge.succeeded", public(charge))
    if manual:
        account.authorized_at[intent["id"]] = state.clock()
        capture_before = state.now() + int(state.options.authorization_ttl_seconds)
        charge["payment_method_details"]["card"]["capture_before"] = capture_before
        intent.update(status="requires_capture", amount_capturable=intent["amount"])
        state.emit(account, "payment_intent.amount_capturable_updated", public(intent))
    else:
        intent.update(status="succeeded", amount_received=intent["amount"])
        state.emit(account, "payment_intent.succeeded", public(intent))
    session.update(
        status="complete",
        payment_status="unpaid" if manual else "paid",
        customer_details={"email": session["customer_email"]},
    )
    state.emit(account, "checkout.session.completed", public(session))
    return Attempt("succeeded", _success_url(session))


def _success_url(session: dict[str, Any]) -> str | None:
    url = session["success_url"]
    return None if url is None else str(url).replace("{CHECKOUT_SESSION_ID}", session["id"])


# --- PaymentIntents --------------------------------------------------------------------------


def find_intent(account: Account, intent_id: str) -> dict[str, Any]:
    intent = account.intents.get(intent_id)
    if intent is None:
        raise wire.no_such("payment_intent", intent_id, "intent")
    return intent


def update_intent(
    account: Account, intent: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    wire.only(params, ("metadata", "description", "expand"))
    intent["metadata"] = wire.merged(intent["metadata"], wire.metadata(params))
    description = wire.text(params, "description")
    if description is not None:
        intent["description"] = description
    return public(intent)


def capture(
    state: StripeState,
    account: Account,
    intent: dict[str, Any],
    params: dict[str, Any],
    ctx: Context,
) -> dict[str, Any]:
    wire.only(params, ("amount_to_capture", "metadata", "final_capture", "expand"))
    amount = wire.integer(params, "amount_to_capture")
    metadata = wire.metadata(params)
    if wire.boolean(params, "final_capture") is False:
        raise wire.invalid(
            "final_capture",
            "Multicapture is not available for this PaymentIntent.",
            "parameter_invalid",
        )
    if intent["status"] != "requires_capture":
        raise _unexpected(intent, "captured", ("requires_capture",))
    capturable = intent["amount_capturable"]
    amount = capturable if amount is None else amount
    if amount <= 0:
        raise wire.invalid("amount_to_capture", "amount_to_capture must be greater than 0.")
    if amount > capturable:
        raise StripeError(
            400,
            f"The amount_to_capture ({amount}) must be less than or equal to the "
            f"amount_capturable ({capturable}).",
            code="amount_too_large",
            param="amount_to_capture",
            saved=True,
        )
    intent["metadata"] = wire.merged(intent["metadata"], metadata)
    intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
    charge = account.charges[intent["latest_charge"]]
    charge.update(captured=True, amount_captured=amount)
    account.authorized_at.pop(intent["id"], None)
    state.emit(account, "charge.captured", public(charge), ctx.request)
    state.emit(account, "payment_intent.succeeded", public(intent), ctx.request)
    return public(intent)


def cancel(
    state: StripeState,
    account: Account,
    intent: dict[str, Any],
    params: dict[str, Any],
    ctx: Context,
) -> dict[str, Any]:
    wire.only(params, ("cancellation_reason", "expand"))
    reason = wire.text(params, "cancellation_reason")
    if reason is not None and reason not in CANCELLATION_REASONS:
        raise wire.invalid(
            "cancellation_reason",
            f"Invalid cancellation_reason: must be one of {', '.join(CANCELLATION_REASONS)}",
            "parameter_invalid",
        )
    if intent["status"] not in CANCELLABLE:
        raise _unexpected(intent, "canceled", (*CANCELLABLE, "processing"))
    release(state, account, intent, reason, ctx.request)
    return public(intent)


def release(
    state: StripeState,
    account: Account,
    intent: dict[str, Any],
    reason: str | None,
    request: dict[str, Any] | None,
) -> None:
    intent.update(
        status="canceled",
        cancellation_reason=reason,
        canceled_at=state.now(),
        amount_capturable=0,
        next_action=None,
    )
    account.authorized_at.pop(intent["id"], None)
    state.emit(account, "payment_intent.canceled", public(intent), request)


def _unexpected(intent: dict[str, Any], verb: str, allowed: tuple[str, ...]) -> StripeError:
    action = "captured" if verb == "captured" else "canceled"
    return StripeError(
        400,
        f"This PaymentIntent could not be {action} because it has a status of "
        f"{intent['status']}. Only a PaymentIntent with one of the following statuses may be "
        f"{action}: {', '.join(allowed)}.",
        code="payment_intent_unexpected_state",
        saved=True,
        payment_intent=public(intent),
    )


def expire_authorization(state: StripeState, account: Account, intent: dict[str, Any]) -> None:
    """Stripe cancels an authorization nobody captured in time (7 days by default)."""
    if intent["status"] != "requires_capture":
        raise ControlError(409, f"the PaymentIntent is {intent['status']}, not requires_capture")
    release(state, account, intent, state.options.authorization_expiry_reason, None)
    charge = account.charges.get(intent["latest_charge"])
    if charge is not None:
        state.emit(account, "charge.expired", public(charge))
