"""The Stripe emulator's control API (`/_emulator/...`): what the customer and time do, what
was called, faults to inject. JSON in, `(status, JSON)` out; no HTTP framework here."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from payrelay.connectors.stripe import emulator_checkout as checkout
from payrelay.connectors.stripe import emulator_payments as payments
from payrelay.connectors.stripe import emulator_refunds as refunds
from payrelay.connectors.stripe.emulator_state import Account, ControlError, StripeState, public
from payrelay.connectors.stripe.emulator_webhooks import Notifier

FAULT_MODES = ("error", "hang", "slow")
OPERATIONS = (
    "create_session",
    "list_sessions",
    "retrieve_session",
    "expire_session",
    "retrieve_intent",
    "update_intent",
    "capture",
    "cancel",
    "create_refund",
    "list_refunds",
    "retrieve_refund",
    "retrieve_charge",
    "retrieve_event",
    "create_endpoint",
    "list_endpoints",
    "delete_endpoint",
)
Answer = tuple[int, Any]
Handler = Callable[[StripeState, Notifier, str, dict[str, Any]], Awaitable[Answer]]


async def handle(
    state: StripeState, notifier: Notifier, method: str, path: str, body: dict[str, Any]
) -> Answer:
    for route_method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            try:
                return await handler(state, notifier, match.groupdict().get("id", ""), body)
            except ControlError as exc:
                return exc.status, {"error": str(exc)}
    return 404, {"error": f"no control endpoint {method} /_emulator/{path}"}


def _owner(state: StripeState, object_id: str) -> Account:
    account = state.owners.get(object_id)
    if account is None:
        raise ControlError(404, f"unknown object {object_id}")
    return account


def _flag(body: dict[str, Any], name: str, default: bool = True) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ControlError(422, f"{name} must be true or false")
    return value


async def _events(state: StripeState, notifier: Notifier, notify: bool) -> list[dict[str, Any]]:
    """The events the action caused: sent now (unless `notify` is false), then shown."""
    events = state.drain()
    if notify:
        await notifier.now(events)
    return [state.event_view(event) for _, event in events]


async def pay(state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]) -> Answer:
    account = _owner(state, oid)
    session = account.sessions.get(oid)
    card = body.get("card", "4242424242424242")
    if session is None or not isinstance(card, str):
        raise ControlError(422, "a Checkout Session id and a card number (string)")
    tried = payments.attempt(state, account, session, card)
    return 200, _outcome(
        state, account, session, tried, await _events(state, notifier, _flag(body, "notify"))
    )


async def authenticate(
    state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]
) -> Answer:
    account = _owner(state, oid)
    outcome = body.get("outcome")
    if oid not in account.intents or outcome not in ("complete", "fail"):
        raise ControlError(422, "a PaymentIntent id and outcome complete or fail")
    tried = payments.authenticate(state, account, account.intents[oid], outcome == "complete")
    session = next(s for s in account.sessions.values() if s["payment_intent"] == oid)
    events = await _events(state, notifier, _flag(body, "notify"))
    return 200, _outcome(state, account, session, tried, events)


def _outcome(
    state: StripeState,
    account: Account,
    session: dict[str, Any],
    tried: payments.Attempt,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    intent_id = session["payment_intent"]
    return {
        "status": tried.status,
        "redirect": tried.redirect,
        "error": tried.error,
        "session": public(session),
        "payment_intent": public(account.intents[intent_id]) if intent_id else None,
        "events": events,
    }


async def expire_session(
    state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]
) -> Answer:
    account = _owner(state, oid)
    session = account.sessions.get(oid)
    if session is None or session["status"] != "open":
        raise ControlError(409, "no open Checkout Session with this id")
    checkout.expire_session(state, account, session, None)
    events = await _events(state, notifier, _flag(body, "notify"))
    return 200, {"session": public(session), "events": events}


async def expire_authorization(
    state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]
) -> Answer:
    account = _owner(state, oid)
    if oid not in account.intents:
        raise ControlError(404, "no PaymentIntent with this id")
    payments.expire_authorization(state, account, account.intents[oid])
    events = await _events(state, notifier, _flag(body, "notify"))
    return 200, {"payment_intent": public(account.intents[oid]), "events": events}


async def settle(state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]) -> Answer:
    account = _owner(state, oid)
    if oid not in account.refunds:
        raise ControlError(404, "no refund with this id")
    refunds.settle_refund(state, account, account.refunds[oid], str(body.get("status")))
    events = await _events(state, notifier, _flag(body, "notify"))
    return 200, {"refund": public(account.refunds[oid]), "events": events}


async def list_events(
    state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]
) -> Answer:
    events = [event for account in state.accounts.values() for event in account.events.values()]
    events.sort(key=lambda event: int(event["created"]))
    return 200, [state.event_view(event) for event in events]


async def deliver(state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]) -> Answer:
    """Send an event again now, once, to every endpoint that wants it (even while paused)."""
    account = _owner(state, oid)
    event = account.events.get(oid)
    if event is None:
        raise ControlError(404, "no event with this id")
    await notifier.deliver(account, event, retries=0)
    return 200, state.event_view(event)


async def delivery(
    state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]
) -> Answer:
    state.paused = _flag(body, "paused", state.paused)
    return 200, {"paused": state.paused}


async def calls(state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]) -> Answer:
    return 200, state.calls


async def faults(state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]) -> Answer:
    operation, mode, times = body.get("operation"), body.get("mode"), body.get("times", 1)
    if operation not in OPERATIONS or mode not in FAULT_MODES:
        raise ControlError(422, f"operation in {list(OPERATIONS)}, mode in {FAULT_MODES}")
    if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 100:
        raise ControlError(422, "times must be an integer from 1 to 100")
    state.faults.setdefault(operation, []).extend([mode] * times)
    return 200, {"faults": state.faults}


async def new_account(
    state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]
) -> Answer:
    return 200, {"secret_key": state.new_account().key}


async def roll(state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]) -> Answer:
    keep = body.get("keep_old_seconds", 86_400)
    if isinstance(keep, bool) or not isinstance(keep, int | float) or keep < 0:
        raise ControlError(422, "keep_old_seconds must be a number ≥ 0")
    for account in state.accounts.values():
        endpoint = account.endpoints.get(oid)
        if endpoint is not None:
            return 200, {"secret": state.roll_secret(endpoint, float(keep))}
    raise ControlError(404, "no webhook endpoint with this id")


async def find(state: StripeState, notifier: Notifier, oid: str, body: dict[str, Any]) -> Answer:
    account = _owner(state, oid)
    for objects in (
        account.sessions,
        account.intents,
        account.charges,
        account.refunds,
        account.events,
    ):
        if oid in objects:
            return 200, public(objects[oid])
    raise ControlError(404, f"unknown object {oid}")


ID = r"(?P<id>[^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(path), handler)
    for method, path, handler in (
        ("POST", f"checkout/{ID}/pay", pay),
        ("POST", f"checkout/{ID}/expire", expire_session),
        ("POST", f"payment_intents/{ID}/authenticate", authenticate),
        ("POST", f"payment_intents/{ID}/expire_authorization", expire_authorization),
        ("POST", f"refunds/{ID}/settle", settle),
        ("GET", "events", list_events),
        ("POST", f"events/{ID}/deliver", deliver),
        ("POST", "delivery", delivery),
        ("GET", "calls", calls),
        ("POST", "faults", faults),
        ("POST", "accounts", new_account),
        ("POST", f"webhook_endpoints/{ID}/roll", roll),
        ("GET", f"objects/{ID}", find),
    )
]
