"""`payrelay emulate stripe --port N`: a local stand-in for Stripe's API, hosted pages and
webhooks.

The API (`/v1/...`, form bodies, JSON answers) checks the secret key as Stripe does (Bearer, or
Basic with the key as user name), answers with Stripe's error shapes and codes, and keeps each
Idempotency-Key's first answer: the same request again is replayed, other parameters are a 400
`idempotency_error`, a request still running a 409. Supported: Checkout Sessions (create, read,
list, expire), PaymentIntents (read, update, capture, cancel), Refunds (create, read, list),
Charges and Events (read), Webhook Endpoints (create, list, delete).

The customer pays on the hosted page (`session.url`: `/c/pay/{id}`) with Stripe's test cards;
3-D Secure cards go through a challenge page. Events go to the account's webhook endpoints,
signed (`Stripe-Signature`); those caused by the customer are sent before the browser is
answered, the others right after the API answer. Control API for tests and developers:

- `POST /_emulator/checkout/{session}/pay` `{"card": "4242…", "notify"?: true}`;
- `POST /_emulator/payment_intents/{id}/authenticate` `{"outcome": "complete"|"fail"}`;
- `POST /_emulator/payment_intents/{id}/expire_authorization`: Stripe's own cancel after 7 days;
- `POST /_emulator/checkout/{session}/expire`: the session runs out;
- `POST /_emulator/refunds/{id}/settle` `{"status": "succeeded"|"failed"}` (pending refunds);
- `GET /_emulator/events`, `POST /_emulator/events/{id}/deliver` (send it again, now);
- `POST /_emulator/delivery` `{"paused": true}`: record events without sending them;
- `GET /_emulator/calls`; `POST /_emulator/faults` `{"operation", "mode", "times"?}`: `error`
  answers 500 before doing anything (nothing kept for the key), `hang` does the work and holds
  the answer back until the caller gives up, `slow` holds the request before doing it (its
  Idempotency-Key is in flight meanwhile);
- `POST /_emulator/accounts`: a new account and its secret key;
- `POST /_emulator/webhook_endpoints/{id}/roll` `{"keep_old_seconds"}`: a new secret, the old
  one still signing (two `v1`) until it expires;
- `GET /_emulator/objects/{id}`.

Everything lives in memory. Options: see `emulator_state.Options`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import html
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from payrelay.connectors.stripe import emulator_checkout as checkout
from payrelay.connectors.stripe import emulator_control
from payrelay.connectors.stripe import emulator_pages as pages
from payrelay.connectors.stripe import emulator_payments as payments
from payrelay.connectors.stripe import emulator_refunds as refunds
from payrelay.connectors.stripe import emulator_wire as wire
from payrelay.connectors.stripe.emulator_state import (
    Account,
    Context,
    ControlError,
    Options,
    Stored,
    StripeState,
    public,
)
from payrelay.connectors.stripe.emulator_webhooks import Notifier
from payrelay.connectors.stripe.emulator_wire import StripeError, new_id

log = logging.getLogger(__name__)
NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
ID = r"(?P<id>[^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(f"^{path}$"), name)
    for method, path, name in (
        ("POST", "/v1/checkout/sessions", "create_session"),
        ("GET", "/v1/checkout/sessions", "list_sessions"),
        ("GET", f"/v1/checkout/sessions/{ID}", "retrieve_session"),
        ("POST", f"/v1/checkout/sessions/{ID}/expire", "expire_session"),
        ("GET", f"/v1/payment_intents/{ID}", "retrieve_intent"),
        ("POST", f"/v1/payment_intents/{ID}", "update_intent"),
        ("POST", f"/v1/payment_intents/{ID}/capture", "capture"),
        ("POST", f"/v1/payment_intents/{ID}/cancel", "cancel"),
        ("POST", "/v1/refunds", "create_refund"),
        ("GET", "/v1/refunds", "list_refunds"),
        ("GET", f"/v1/refunds/{ID}", "retrieve_refund"),
        ("GET", f"/v1/charges/{ID}", "retrieve_charge"),
        ("GET", f"/v1/events/{ID}", "retrieve_event"),
        ("POST", "/v1/webhook_endpoints", "create_endpoint"),
        ("GET", "/v1/webhook_endpoints", "list_endpoints"),
        ("DELETE", f"/v1/webhook_endpoints/{ID}", "delete_endpoint"),
    )
]


def create_app(options: dict[str, str]) -> FastAPI:
    state = StripeState(Options.parse(options))
    notifier = Notifier(state)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async def tick() -> None:  # time passes: sessions and authorizations run out
            while True:
                await asyncio.sleep(1)
                try:
                    checkout.sweep(state)
                except Exception:  # keep time passing; the error is the emulator's own bug
                    log.exception("stripe emulator: sweep failed")
                notifier.later(state.drain())

        ticker = asyncio.ensure_future(tick())
        yield
        ticker.cancel()
        for task in list(notifier.tasks):
            task.cancel()

    app = FastAPI(
        title="Stripe emulator", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )

    @app.api_route("/v1/{path:path}", methods=["GET", "POST", "DELETE"])
    async def api(request: Request) -> Response:
        return await _api(state, notifier, request)

    @app.get("/c/pay/{session_id}")
    async def checkout_page(session_id: str) -> Response:
        checkout.sweep(state)
        notifier.later(state.drain())
        found = _session(state, session_id)
        if found is None:
            return HTMLResponse(pages.page("Stripe Checkout", "<p>Unknown session.</p>"), 404)
        session = found[1]
        if session["status"] != "open":
            return HTMLResponse(pages.closed(session))
        return HTMLResponse(pages.checkout(session))

    @app.post("/c/pay/{session_id}")
    async def checkout_pay(session_id: str, request: Request) -> Response:
        found = _session(state, session_id)
        if found is None:
            return HTMLResponse(pages.page("Stripe Checkout", "<p>Unknown session.</p>"), 404)
        account, session = found
        card = str((await request.form()).get("card", ""))
        try:
            tried = payments.attempt(state, account, session, card)
        except ControlError:
            return HTMLResponse(pages.closed(session), 409)
        await notifier.now(state.drain())
        return _answer_customer(session, tried)

    @app.get("/3ds/{intent_id}")
    async def challenge_page(intent_id: str) -> Response:
        account = state.owners.get(intent_id)
        intent = account.intents.get(intent_id) if account else None
        if intent is None or intent["status"] != "requires_action":
            return HTMLResponse(pages.page("3D Secure", "<p>Nothing to authenticate.</p>"), 404)
        return HTMLResponse(pages.challenge(intent))

    @app.post("/3ds/{intent_id}")
    async def challenge_answer(intent_id: str, request: Request) -> Response:
        account = state.owners.get(intent_id)
        intent = account.intents.get(intent_id) if account else None
        if account is None or intent is None:
            return HTMLResponse(pages.page("3D Secure", "<p>Nothing to authenticate.</p>"), 404)
        ok = (await request.form()).get("outcome") == "complete"
        try:
            tried = payments.authenticate(state, account, intent, ok)
        except ControlError as exc:
            return HTMLResponse(
                pages.page("3D Secure", f"<p>{html.escape(str(exc))}</p>"), exc.status
            )
        await notifier.now(state.drain())
        session = _session_of(account, intent_id)
        return _answer_customer(session, tried)

    _control(app, state, notifier)
    return app


def _answer_customer(session: dict[str, Any], tried: payments.Attempt) -> Response:
    if tried.redirect is not None:
        return RedirectResponse(tried.redirect, status_code=303)
    if tried.status == "succeeded":
        return HTMLResponse(pages.closed(session))
    return HTMLResponse(pages.checkout(session, error=tried.error))


def _session(state: StripeState, session_id: str) -> tuple[Account, dict[str, Any]] | None:
    account = state.owners.get(session_id)
    session = account.sessions.get(session_id) if account else None
    return None if account is None or session is None else (account, session)


def _session_of(account: Account, intent_id: str) -> dict[str, Any]:
    return next(s for s in account.sessions.values() if s["payment_intent"] == intent_id)


# --- the API ---------------------------------------------------------------------------------


def _authenticate(state: StripeState, request: Request) -> Account:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = value.strip()
    elif scheme.lower() == "basic":  # `-u sk_test_…:`: the key is the user name
        try:
            key = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            key = ""
    if not key:
        raise StripeError(401, NO_KEY)
    account = state.accounts.get(key)
    if account is None:
        raise StripeError(
            401,
            f"Invalid API Key provided: {wire.mask_key(key)}",
            headers={"WWW-Authenticate": 'Bearer realm="Stripe"'},
        )
    return account


async def _api(state: StripeState, notifier: Notifier, request: Request) -> Response:
    checkout.sweep(state)
    notifier.later(state.drain())
    request_id = new_id("req", 14)
    method, path = request.method, request.url.path
    headers = {
        "Request-Id": request_id,
        "Stripe-Version": request.headers.get("stripe-version", state.options.api_version),
    }
    call: dict[str, Any] = {"method": method, "path": path, "operation": None}
    try:
        account = _authenticate(state, request)
        call["account"] = account.key
        name, object_id = _route(method, path)
        call["operation"] = name
        raw = await request.body() if method == "POST" else request.url.query.encode()
        params = wire.decode(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        call["params"] = params
    except (StripeError, UnicodeDecodeError) as exc:
        error = exc if isinstance(exc, StripeError) else StripeError(400, "Invalid body")
        return _record(
            state, call, error.status, error.body(request_id), {**headers, **error.headers}
        )
    key = request.headers.get("idempotency-key") if method == "POST" else None
    call["idempotency_key"] = key
    if key is not None:
        headers["Idempotency-Key"] = key
        early = _idempotency(state, account, key, (method, path, wire.canonical(params)))
        if isinstance(early, tuple):
            status, body, extra = early
            return _record(state, call, status, body, {**headers, **extra})
    fault = state.take_fault(name)
    if fault == "error":  # before anything ran: nothing is kept for the key
        if key is not None:
            account.idempotency.pop(key, None)
        error = StripeError(500, "An unknown error occurred", type="api_error")
        return _record(state, call, 500, error.body(request_id), headers)
    if fault == "slow":  # still running: the key is in flight meanwhile
        await _hold(request, state.options.hang_seconds)
    ctx = Context(_base(state, request), request_id, key)
    try:
        answer = _dispatch(state, account, name, object_id, params, ctx)
        status, body, saved = 200, copy.deepcopy(answer), True  # as it was, for replays
    except StripeError as exc:
        status, body, saved = exc.status, exc.body(request_id), exc.saved
    if key is not None:
        if saved:
            account.idempotency[key].status = status
            account.idempotency[key].body = body
            account.idempotency[key].request_id = request_id
        else:
            account.idempotency.pop(key, None)
    notifier.later(state.drain())
    if fault == "hang":
        await _hold(request, state.options.hang_seconds)
    return _record(state, call, status, body, headers)


def _idempotency(
    state: StripeState, account: Account, key: str, fingerprint: Any
) -> tuple[int, dict[str, Any], dict[str, str]] | None:
    """The answer for a key seen before, or None (the key is now in flight)."""
    if len(key) > 255:
        error = StripeError(400, "Idempotency-Key must be at most 255 characters long.")
        return error.status, error.body(), {}
    stored = state.stored(account, key)
    if stored is None:
        account.idempotency[key] = Stored(fingerprint, state.clock())
        return None
    if stored.fingerprint != fingerprint:
        error = StripeError(
            state.options.idempotency_mismatch_status,
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            "different request.",
            type="idempotency_error",
        )
        return error.status, error.body(), {}
    if stored.status is None or stored.body is None:
        error = StripeError(
            state.options.in_flight_status,
            "There is currently another in-progress request using this Idempotent Key (that "
            "probably means you submitted twice, and the other request is still going "
            f"through): {key}. Please try again later.",
            code="idempotency_key_in_use",
        )
        return error.status, error.body(), {}
    extra = {"Original-Request": stored.request_id}
    if state.options.idempotent_replayed_header:
        extra["Idempotent-Replayed"] = "true"
    return stored.status, stored.body, extra


def _route(method: str, path: str) -> tuple[str, str | None]:
    for route_method, pattern, name in ROUTES:
        match = pattern.match(path)
        if match and route_method == method:
            return name, match.groupdict().get("id")
    raise StripeError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we "
        "can help at https://support.stripe.com/.",
    )


def _dispatch(
    state: StripeState,
    account: Account,
    name: str,
    object_id: str | None,
    params: dict[str, Any],
    ctx: Context,
) -> dict[str, Any]:
    oid = object_id or ""
    expand = wire.strings(params, "expand") or []
    if name == "create_session":
        return checkout.create_session(state, account, params, ctx)
    if name == "list_sessions":
        return checkout.list_sessions(account, params)
    if name == "retrieve_session":
        wire.only(params, ("expand",))
        return checkout.session_view(account, checkout.find_session(account, oid), expand)
    if name == "expire_session":
        wire.only(params, ("expand",))
        return checkout.expire_session(state, account, checkout.find_session(account, oid), ctx)
    if name == "create_refund":
        return refunds.create_refund(state, account, params, ctx)
    if name == "list_refunds":
        return refunds.list_refunds(account, params)
    if name == "retrieve_refund":
        return public(refunds.find_refund(account, oid))
    if name == "retrieve_charge":
        return public(refunds.find_charge(account, oid))
    if name == "retrieve_event":
        event = account.events.get(oid)
        if event is None:
            raise wire.no_such("event", oid, "id")
        return event
    if name == "create_endpoint":
        return refunds.create_endpoint(state, account, params)
    if name == "list_endpoints":
        return refunds.list_endpoints(account, params)
    if name == "delete_endpoint":
        return refunds.delete_endpoint(account, oid)
    intent = payments.find_intent(account, oid)
    if name == "retrieve_intent":
        wire.only(params, ("expand", "client_secret"))
        return public(intent)
    if name == "update_intent":
        return payments.update_intent(account, intent, params)
    if name == "capture":
        return payments.capture(state, account, intent, params, ctx)
    return payments.cancel(state, account, intent, params, ctx)


def _base(state: StripeState, request: Request) -> str:
    return (state.options.public_url or str(request.base_url)).rstrip("/")


def _record(
    state: StripeState,
    call: dict[str, Any],
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
) -> Response:
    state.calls.append({**call, "status": status, "answer": body, "headers": headers})
    return Response(
        content=json.dumps(body, indent=2),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


async def _hold(request: Request, seconds: float) -> None:
    """Keep the answer back until the caller hangs up (its timeout) or `seconds` pass."""

    async def hung_up() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(hung_up(), timeout=seconds)


# --- control API -----------------------------------------------------------------------------


def _control(app: FastAPI, state: StripeState, notifier: Notifier) -> None:
    @app.api_route("/_emulator/{path:path}", methods=["GET", "POST"])
    async def control(path: str, request: Request) -> Response:
        body: Any = {}
        if request.method == "POST" and await request.body():
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": "the body must be JSON"}, 422)
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, 422)
        status, answer = await emulator_control.handle(state, notifier, request.method, path, body)
        return JSONResponse(answer, status)
