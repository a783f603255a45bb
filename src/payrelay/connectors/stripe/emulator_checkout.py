"""The Stripe emulator's Checkout Sessions: create (checked like Stripe checks it), read, list,
expire; and the passing of time (sessions and authorizations that run out)."""

from __future__ import annotations

from typing import Any

from payrelay.connectors.stripe import currencies
from payrelay.connectors.stripe import emulator_payments as payments
from payrelay.connectors.stripe import emulator_wire as wire
from payrelay.connectors.stripe.emulator_state import Account, Context, StripeState, page, public
from payrelay.connectors.stripe.emulator_wire import StripeError, new_id
from payrelay.kit.money import UnknownCurrency

# --- Checkout Sessions -----------------------------------------------------------------------

SESSION_PARAMS = (
    "mode",
    "line_items",
    "payment_method_types",
    "payment_intent_data",
    "metadata",
    "client_reference_id",
    "success_url",
    "cancel_url",
    "customer_email",
    "expires_at",
    "expand",
    "locale",
    "submit_type",
)
INTENT_DATA = ("capture_method", "metadata", "description", "receipt_email", "statement_descriptor")


def create_session(
    state: StripeState, account: Account, params: dict[str, Any], ctx: Context
) -> dict[str, Any]:
    wire.only(params, SESSION_PARAMS)
    mode = wire.text(params, "mode", required=True)
    if mode != "payment":
        raise wire.invalid(
            "mode", f"The emulator takes mode=payment, not {mode}.", "parameter_invalid"
        )
    currency, total = _line_items(params)
    _check_amount(state, currency, total, "line_items")
    intent_data = wire.mapping(params, "payment_intent_data")
    wire.only(intent_data, INTENT_DATA, "payment_intent_data")
    capture_method = wire.text(intent_data, "capture_method") or "automatic_async"
    if capture_method not in ("automatic", "automatic_async", "manual"):
        raise wire.invalid(
            "payment_intent_data[capture_method]",
            "Invalid payment_intent_data[capture_method]: must be one of automatic, "
            "automatic_async, or manual",
            "parameter_invalid",
        )
    types = wire.strings(params, "payment_method_types") or ["card"]
    for kind in types:
        if kind != "card":
            raise wire.invalid(
                "payment_method_types",
                f"The payment method type provided: {kind} is invalid (the emulator takes card).",
                "parameter_invalid",
            )
    for name in ("success_url", "cancel_url"):
        url = wire.text(params, name)
        if url is not None and not url.startswith(("http://", "https://")):
            raise wire.invalid(name, "Not a valid URL", "url_invalid")
    reference = wire.text(params, "client_reference_id")
    if reference is not None and len(reference) > 200:
        raise wire.invalid("client_reference_id", "client_reference_id is too long (max 200).")
    now = state.now()
    expires_at = wire.integer(params, "expires_at")
    if expires_at is not None and not now + 1800 <= expires_at <= now + 86_400:
        raise wire.invalid(
            "expires_at",
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
            "parameter_invalid",
        )
    session_id = new_id(f"cs_{account.mode}", 58)
    session = {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": total,
        "amount_total": total,
        "cancel_url": wire.text(params, "cancel_url"),
        "client_reference_id": reference,
        "created": now,
        "currency": currency,
        "customer": None,
        "customer_details": None,
        "customer_email": wire.text(params, "customer_email"),
        "expires_at": expires_at or now + int(state.options.session_ttl_seconds),
        "livemode": account.livemode,
        "locale": wire.text(params, "locale"),
        "metadata": wire.metadata(params) or {},
        "mode": "payment",
        "payment_intent": None,
        "payment_method_types": types,
        "payment_status": "unpaid",
        "status": "open",
        "success_url": wire.text(params, "success_url"),
        "ui_mode": "hosted",
        "url": f"{ctx.base_url}/c/pay/{session_id}",
        "_base": ctx.base_url,
        "_intent_data": {
            "capture_method": capture_method,
            "metadata": wire.metadata(intent_data) or {},
            "description": wire.text(intent_data, "description"),
        },
    }
    account.sessions[session_id] = state.own(account, session)
    return session_view(account, session, wire.strings(params, "expand") or [])


def _line_items(params: dict[str, Any]) -> tuple[str, int]:
    items = params.get("line_items")
    if not items:
        raise wire.missing("line_items")
    if not isinstance(items, list):
        raise wire.invalid("line_items", "Invalid array", "parameter_invalid")
    currency: str | None = None
    total = 0
    for index, item in enumerate(items):
        where = f"line_items[{index}]"
        if not isinstance(item, dict):
            raise wire.invalid(where, f"Invalid object: {where}", "parameter_invalid")
        wire.only(item, ("price_data", "quantity", "price"), where)
        if "price" in item:
            raise wire.no_such("price", str(item["price"]), f"{where}[price]")
        data = wire.mapping(item, "price_data")
        if not data:
            raise wire.missing(f"{where}[price_data]")
        wire.only(data, ("currency", "unit_amount", "product_data"), f"{where}[price_data]")
        code = (wire.text(data, "currency", required=True) or "").lower()
        try:
            currencies.exponent(code)
        except UnknownCurrency:
            raise wire.invalid(
                f"{where}[price_data][currency]", f"Invalid currency: {code}.", "parameter_invalid"
            ) from None
        if currency is not None and code != currency:
            raise wire.invalid(
                f"{where}[price_data][currency]",
                "All line items must use the same currency.",
                "parameter_invalid",
            )
        currency = code
        unit = wire.integer(
            data, "unit_amount", required=True, label=f"{where}[price_data][unit_amount]"
        )
        product = wire.mapping(data, "product_data")
        if not wire.text(product, "name"):
            raise wire.missing(f"{where}[price_data][product_data][name]")
        quantity = wire.integer(item, "quantity", required=True, label=f"{where}[quantity]")
        if unit is None or unit < 0 or quantity is None or quantity < 1:
            raise wire.invalid(
                where, "unit_amount must be ≥ 0 and quantity ≥ 1", "parameter_invalid_integer"
            )
        total += unit * quantity
    assert currency is not None
    return currency, total


def _check_amount(state: StripeState, currency: str, amount: int, param: str) -> None:
    code = currency.upper()
    if amount > currencies.MAX_MINOR:
        raise wire.invalid(
            param, "Amount must be no more than 99,999,999 (8 digits).", "amount_too_large"
        )
    if code == "USD" and amount < state.options.min_usd_cents:
        raise wire.invalid(param, "Amount must be at least $0.50 usd", "amount_too_small")
    if amount <= 0:
        raise wire.invalid(param, "Amount must be greater than zero.", "amount_too_small")
    if code in currencies.THREE_DECIMAL and amount % 10:
        # [?] the spec says the last digit must be 0; Stripe's exact error is not known.
        raise wire.invalid(
            param, f"{code} amounts must end in 0 (at most two decimals).", "invalid_amount"
        )


def session_view(account: Account, session: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    for field in expand:
        if field != "payment_intent":
            raise wire.invalid("expand", f"This property cannot be expanded ({field}).")
    view = public(session)
    intent_id = session.get("payment_intent")
    if "payment_intent" in expand and intent_id is not None:
        view["payment_intent"] = public(account.intents[intent_id])
    return view


def find_session(account: Account, session_id: str) -> dict[str, Any]:
    session = account.sessions.get(session_id)
    if session is None:
        raise wire.no_such("checkout.session", session_id, "session")
    return session


def list_sessions(account: Account, params: dict[str, Any]) -> dict[str, Any]:
    wire.only(params, ("limit", "starting_after", "ending_before", "payment_intent", "status"))
    items = list(reversed(account.sessions.values()))
    intent, status = wire.text(params, "payment_intent"), wire.text(params, "status")
    items = [
        s
        for s in items
        if (intent is None or s["payment_intent"] == intent)
        and (status is None or s["status"] == status)
    ]
    return page([public(s) for s in items], params, "/v1/checkout/sessions")


def expire_session(
    state: StripeState, account: Account, session: dict[str, Any], ctx: Context | None
) -> dict[str, Any]:
    if session["status"] != "open":
        raise StripeError(
            400,
            f"Only Checkout Sessions with a status of open can be expired; this one is "
            f"{session['status']}.",  # [?] Stripe's exact wording is not known
            saved=True,
        )
    request = ctx.request if ctx else None
    intent_id = session["payment_intent"]
    if intent_id is not None:
        intent = account.intents[intent_id]
        if intent["status"] in payments.CANCELLABLE:
            payments.release(state, account, intent, "abandoned", request)
    session["status"] = "expired"
    state.emit(account, "checkout.session.expired", public(session), request)
    return public(session)


def sweep(state: StripeState) -> None:
    """What time does: sessions past `expires_at` expire, authorizations past their window
    are cancelled."""
    now = state.clock()
    ttl = state.options.authorization_ttl_seconds
    for account in list(state.accounts.values()):
        for session in list(account.sessions.values()):
            if session["status"] == "open" and session["expires_at"] <= now:
                expire_session(state, account, session, None)
        for intent_id, since in list(account.authorized_at.items()):
            if now - since >= ttl:
                payments.expire_authorization(state, account, account.intents[intent_id])
