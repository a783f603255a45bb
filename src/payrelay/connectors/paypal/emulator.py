"""`payrelay emulate paypal --port N`: a local stand-in for PayPal's REST servers.

PayPal's API — `POST /v1/oauth2/token`, Orders v2, Payments v2, webhooks and
`verify-webhook-signature` — checks the bearer token on every call and answers with PayPal's
error shapes. The approve link (`/checkoutnow?token=…`) lets a person approve (PayPal balance, a
card PayPal will decline, a card needing 3-D Secure) or cancel; the buyer then goes back to the
order's return URL, and signed webhooks go to every registered webhook. Scripts use the control
API (`/_emulator/...`, see docs/gateways/paypal.md). Everything lives in memory; the routes
here only translate HTTP to `emulator_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from payrelay.connectors.paypal import emulator_render as render
from payrelay.connectors.paypal.emulator_app import Answer, Call, Emulator, Handler, failed
from payrelay.connectors.paypal.emulator_notify import signer
from payrelay.connectors.paypal.emulator_rules import ControlError
from payrelay.connectors.paypal.emulator_state import Options, not_found

PAYMENTS = {"authorizations": "authorization", "captures": "capture", "refunds": "refund"}


def create_app(options: dict[str, str]) -> FastAPI:
    emulator = Emulator(Options.parse(options))
    state = emulator.state
    app = FastAPI(title="PayPal emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.emulator = emulator

    async def api(request: Request, operation: str, handler: Handler, kind: str = "") -> Response:
        async def hold() -> None:
            await _hold(request, state.options.hang_seconds)

        answer = await emulator.api(await _call(request), operation, handler, kind, hold)
        return _response(answer)

    @app.post("/v1/oauth2/token")
    async def token(request: Request) -> Response:
        return _response(emulator.token(await _call(request)))

    @app.post("/v2/checkout/orders")
    async def create_order(request: Request) -> Response:
        def run(client: str, body: dict[str, Any]) -> tuple[int, str, str]:
            return 201, "order", state.create_order(client, body).id

        return await api(request, "create", run, "order")

    @app.get("/v2/checkout/orders/{order_id}")
    async def show_order(order_id: str, request: Request) -> Response:
        def run(client: str, body: dict[str, Any]) -> tuple[int, str, str]:
            return 200, "order", state.order(client, order_id).id

        return await api(request, "show_order", run)

    @app.post("/v2/checkout/orders/{order_id}/{action}")
    async def complete_order(order_id: str, action: str, request: Request) -> Response:
        if action not in ("capture", "authorize"):
            return _response(failed(not_found()))

        def run(client: str, body: dict[str, Any]) -> tuple[int, str, str]:
            order = state.order(client, order_id)
            if action == "capture":
                state.capture_order(order)
            else:
                state.authorize_order(order)
            return 201, "order", order_id

        return await api(request, f"{action}_order", run, "order")

    @app.get("/v2/payments/{kind}/{resource_id}")
    async def show(kind: str, resource_id: str, request: Request) -> Response:
        if kind not in PAYMENTS:
            return _response(failed(not_found()))
        lookup: Callable[[str, str], Any] = {
            "authorizations": state.authorization,
            "captures": state.capture,
            "refunds": state.refund,
        }[kind]
        return await api(
            request,
            "show",
            lambda client, body: (200, PAYMENTS[kind], lookup(client, resource_id).id),
        )

    @app.post("/v2/payments/authorizations/{authorization_id}/{action}")
    async def authorization_action(
        authorization_id: str, action: str, request: Request
    ) -> Response:
        if action not in ("capture", "void"):
            return _response(failed(not_found()))

        def run(client: str, body: dict[str, Any]) -> tuple[int, str, str]:
            found = state.authorization(client, authorization_id)
            if action == "capture":
                return 201, "capture", state.capture_authorization(found, body).id
            return 200, "authorization", state.void(found).id

        return await api(
            request, action, run, "capture" if action == "capture" else "authorization"
        )

    @app.post("/v2/payments/captures/{capture_id}/refund")
    async def refund(capture_id: str, request: Request) -> Response:
        def run(client: str, body: dict[str, Any]) -> tuple[int, str, str]:
            return 201, "refund", state.refund_capture(state.capture(client, capture_id), body).id

        return await api(request, "refund", run, "refund")

    @app.post("/v1/notifications/verify-webhook-signature")
    async def verify(request: Request) -> Response:
        return _response(emulator.verify(await _call(request)))

    @app.post("/v1/notifications/webhooks")
    async def register(request: Request) -> Response:
        return _response(emulator.register_webhook(await _call(request)))

    @app.get("/v1/notifications/webhooks")
    async def webhooks(request: Request) -> Response:
        return _response(emulator.list_webhooks(await _call(request)))

    @app.post("/v1/notifications/webhooks-events/{event_id}/resend")
    async def resend(event_id: str, request: Request) -> Response:
        return _response(await emulator.resend(await _call(request), event_id))

    @app.get("/v1/notifications/certs/{cert_id}")
    async def certificate(cert_id: str) -> Response:
        return Response(signer().chain_pem, media_type="application/x-pem-file")

    # --- the buyer's pages ----------------------------------------------------------------------

    @app.get("/checkoutnow")
    async def approve_page(token: str = "") -> Response:
        order = state.orders.get(token)
        if order is None:
            return HTMLResponse(render.page("<p>This checkout link is not valid.</p>"), 404)
        return HTMLResponse(render.approve_page(order))

    @app.get("/checkoutnow/3ds")
    async def three_ds_page(token: str = "") -> Response:
        order = state.orders.get(token)
        if order is None or order.funding != "card_3ds" or order.payer:
            return HTMLResponse(render.page("<p>No challenge is waiting.</p>"), 404)
        return HTMLResponse(render.three_ds_page(order))

    @app.post("/checkoutnow")
    @app.post("/checkoutnow/3ds")
    async def buyer_choice(request: Request) -> Response:
        form = await request.form()
        try:
            answer = await emulator.buyer(
                _base(request), str(form.get("token", "")), str(form.get("choice", ""))
            )
        except ControlError as exc:
            return HTMLResponse(render.page(f"<p>{exc}</p>"), exc.status)
        return RedirectResponse(answer.location or "/", 303)

    # --- control (`/_emulator/...`, see docs/gateways/paypal.md) ---------------------------------

    async def control(request: Request, action: str, target: str = "") -> Response:
        return _response(
            await emulator.control(action, target, await request.body(), _base(request))
        )

    @app.post("/_emulator/orders/{order_id}/{action}")
    async def control_buyer(order_id: str, action: str, request: Request) -> Response:
        return await control(request, action if action in ("approve", "3ds") else "?", order_id)

    @app.get("/_emulator/orders/{order_id}")
    async def control_order(order_id: str, request: Request) -> Response:
        return await control(request, "order", order_id)

    @app.get("/_emulator/events")
    async def control_events(request: Request) -> Response:
        return await control(request, "events")

    @app.post("/_emulator/events/{event_id}/deliver")
    async def control_deliver(event_id: str, request: Request) -> Response:
        return await control(request, "deliver", event_id)

    @app.get("/_emulator/calls")
    async def control_calls(request: Request) -> Response:
        return await control(request, "calls")

    @app.post("/_emulator/{action}")
    async def control_other(action: str, request: Request) -> Response:
        names = {"settings": "settings", "clock": "clock", "faults": "faults"}
        return await control(request, names.get(action, "?"))

    @app.post("/_emulator/tokens/revoke")
    async def control_revoke(request: Request) -> Response:
        return await control(request, "revoke")

    @app.api_route("/{path:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
    async def unknown(path: str) -> Response:
        return _response(failed(not_found()))

    return app


async def _call(request: Request) -> Call:
    return Call(
        method=request.method,
        path=request.url.path,
        headers={name.lower(): value for name, value in request.headers.items()},
        body=await request.body(),
        base=_base(request),
    )


def _response(answer: Answer) -> Response:
    if answer.location is not None:
        return RedirectResponse(answer.location, answer.status)
    if answer.html is not None:
        return HTMLResponse(answer.html, answer.status)
    if answer.body is None:
        return Response(status_code=answer.status)
    return JSONResponse(answer.body, answer.status)


async def _hold(request: Request, seconds: float) -> None:
    """Keep the answer back until the caller hangs up (its timeout) or `seconds` pass."""

    async def hung_up() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(hung_up(), timeout=seconds)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")
