"""The Stripe emulator's refunds (partial, several, never more than captured), charges and
webhook endpoints."""

from __future__ import annotations

from typing import Any

from payrelay.connectors.stripe import currencies
from payrelay.connectors.stripe import emulator_wire as wire
from payrelay.connectors.stripe.emulator_state import (
    Account,
    Context,
    ControlError,
    StripeState,
    page,
    public,
)
from payrelay.connectors.stripe.emulator_wire import StripeError, new_id

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
REFUND_PARAMS = (
    "payment_intent",
    "charge",
    "amount",
    "reason",
    "metadata",
    "expand",
    "instructions_email",
)


def _money(minor: int, currency: str) -> str:
    return f"{currencies.from_minor(minor, currency)} {currency.upper()}"


def create_refund(
    state: StripeState, account: Account, params: dict[str, Any], ctx: Context
) -> dict[str, Any]:
    wire.only(params, REFUND_PARAMS)
    intent_id, charge_id = wire.text(params, "payment_intent"), wire.text(params, "charge")
    amount = wire.integer(params, "amount")
    reason = wire.text(params, "reason")
    metadata = wire.metadata(params) or {}
    if reason is not None and reason not in REFUND_REASONS:
        raise wire.invalid(
            "reason",
            f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}",
            "parameter_invalid",
        )
    if amount is not None and amount <= 0:
        raise wire.invalid(
            "amount", "Amount must be greater than zero.", "parameter_invalid_integer"
        )
    if intent_id is None and charge_id is None:
        raise wire.missing("payment_intent")
    if intent_id is not None:
        intent = account.intents.get(intent_id)
        if intent is None:
            raise wire.no_such("payment_intent", intent_id, "payment_intent")
        charge_id = intent["latest_charge"] if intent["status"] == "succeeded" else None
        if charge_id is None:
            raise StripeError(
                400,
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                code="payment_intent_unexpected_state",
                param="payment_intent",
                saved=True,
            )
    assert charge_id is not None
    charge = find_charge(account, charge_id, "charge")
    if not charge["captured"]:
        raise StripeError(
            400,
            f"Charge {charge['id']} has not been captured: cancel its PaymentIntent instead.",
            code="charge_not_refundable",  # [?]
            param="charge",
            saved=True,
        )
    remaining = charge["amount_captured"] - charge["amount_refunded"]
    if remaining <= 0:
        raise StripeError(
            400,
            f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
            saved=True,
        )
    amount = remaining if amount is None else amount
    if amount > remaining:
        raise StripeError(
            400,
            f"Refund amount ({_money(amount, charge['currency'])}) is greater than unrefunded "
            f"amount on charge ({_money(remaining, charge['currency'])})",
            code="amount_too_large",
            param="amount",
            saved=True,
        )
    refund = {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": charge["id"],
        "created": state.now(),
        "currency": charge["currency"],
        "destination_details": {"type": "card", "card": {"type": "refund"}},
        "metadata": metadata,
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "status": state.options.refund_status,
    }
    account.refunds[refund["id"]] = state.own(account, refund)
    _count(charge, amount)
    state.emit(account, "refund.created", public(refund), ctx.request)
    state.emit(account, "charge.refunded", public(charge), ctx.request)
    return public(refund)


def _count(charge: dict[str, Any], amount: int) -> None:
    """Pending and succeeded refunds both count against what is left to refund."""
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]


def settle_refund(
    state: StripeState, account: Account, refund: dict[str, Any], status: str
) -> None:
    """A pending refund finishes: `succeeded`, or `failed` (the amount is refundable again)."""
    if refund["status"] != "pending":
        raise ControlError(409, f"the refund is {refund['status']}, not pending")
    if status not in ("succeeded", "failed", "canceled"):
        raise ControlError(422, "status: succeeded, failed or canceled")
    previous = {"status": refund["status"]}
    refund["status"] = status
    if status != "succeeded":
        refund["failure_reason"] = "unknown"
        _count(account.charges[refund["charge"]], -refund["amount"])
    state.emit(account, "charge.refund.updated", public(refund), previous=previous)
    state.emit(account, "refund.updated", public(refund), previous=previous)
    if status == "failed":
        state.emit(account, "refund.failed", public(refund))


def find_refund(account: Account, refund_id: str) -> dict[str, Any]:
    refund = account.refunds.get(refund_id)
    if refund is None:
        raise wire.no_such("refund", refund_id, "refund")
    return refund


def list_refunds(account: Account, params: dict[str, Any]) -> dict[str, Any]:
    wire.only(params, ("payment_intent", "charge", "limit", "starting_after", "ending_before"))
    intent, charge = wire.text(params, "payment_intent"), wire.text(params, "charge")
    items = [
        public(r)
        for r in reversed(account.refunds.values())
        if (intent is None or r["payment_intent"] == intent)
        and (charge is None or r["charge"] == charge)
    ]
    return page(items, params, "/v1/refunds")


def find_charge(account: Account, charge_id: str, param: str = "id") -> dict[str, Any]:
    charge = account.charges.get(charge_id)
    if charge is None:
        raise wire.no_such("charge", charge_id, param)
    return charge


# --- webhook endpoints -----------------------------------------------------------------------


def create_endpoint(state: StripeState, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    wire.only(params, ("url", "enabled_events", "description", "metadata", "api_version", "expand"))
    url = wire.text(params, "url", required=True) or ""
    if not url.startswith(("http://", "https://")):
        raise wire.invalid("url", "Invalid URL: must be http or https", "url_invalid")
    events = wire.strings(params, "enabled_events")
    if not events:
        raise wire.missing("enabled_events")
    endpoint = state.add_endpoint(
        account,
        url,
        events,
        description=wire.text(params, "description"),
        metadata=wire.metadata(params),
    )
    return endpoint.view(with_secret=True)


def list_endpoints(account: Account, params: dict[str, Any]) -> dict[str, Any]:
    wire.only(params, ("limit", "starting_after", "ending_before"))
    items = [endpoint.view() for endpoint in reversed(account.endpoints.values())]
    return page(items, params, "/v1/webhook_endpoints")


def delete_endpoint(account: Account, endpoint_id: str) -> dict[str, Any]:
    if account.endpoints.pop(endpoint_id, None) is None:
        raise wire.no_such("webhook_endpoint", endpoint_id, "webhook_endpoint")
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}
