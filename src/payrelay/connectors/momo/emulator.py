"""`payrelay emulate momo --port N`: a local stand-in for MoMo's AIO v2 servers.

MoMo's API (`POST /v2/gateway/api/{create,query,confirm,refund}`) checks every signature and
answers with MoMo's result codes; the pay page (`payUrl`) lets a person pay, decline or leave an
order pending, and then the signed IPN goes to `ipnUrl`. Scripts and tests use the control API:

- `POST /_emulator/orders/{orderId}/pay` `{"outcome": "success"|"decline"|"pending",
  "result_code"?, "pay_type"?, "notify"?: true}`: what the customer did (and the IPN);
- `POST /_emulator/orders/{orderId}/notify`: send the order's last IPN again, byte for byte;
- `GET /_emulator/orders/{orderId}`: the order, its refunds and every IPN with its attempts;
- `GET /_emulator/calls`: every API call received, with the answer;
- `POST /_emulator/faults` `{"operation": "create"|…, "mode": "error"|"hang", "times"?: 1}`:
  answer the next calls with HTTP 500 before doing anything, or do them and hold the answer
  back until the caller gives up.

Everything lives in memory. Options: see `emulator_state.Options`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from payrelay.connectors.momo import signatures, transformers
from payrelay.connectors.momo.emulator_state import (
    Answer,
    ControlError,
    MomoState,
    Options,
    Order,
    Refusal,
)
from payrelay.kit.crypto import constant_time_equals, hmac_sha256_hex

SIGNED_FIELDS = {
    "create": signatures.CREATE,
    "query": signatures.QUERY,
    "confirm": signatures.CONFIRM,
    "refund": signatures.REFUND,
}
FAULT_MODES = ("error", "hang")


def create_app(options: dict[str, str]) -> FastAPI:
    state = MomoState(Options.parse(options))
    notifier = Notifier(state)
    app = FastAPI(title="MoMo emulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/v2/gateway/api/{operation}")
    async def api(operation: str, request: Request) -> Response:
        if operation not in SIGNED_FIELDS:
            return _json(Answer(404, {"message": "Not found.", "resultCode": 12}))
        answer = await _handle(state, notifier, operation, request)
        return _json(answer)

    @app.get("/v2/gateway/pay")
    async def pay_page(t: str = "", s: str = "") -> Response:
        order = _by_token(state, t, s)
        if order is None:
            return HTMLResponse(_page("MoMo", "<p>Unknown or tampered payment link.</p>"), 404)
        return HTMLResponse(_pay_page(order, t, s))

    @app.post("/v2/gateway/pay")
    async def pay_choice(request: Request) -> Response:
        form = await request.form()
        token, proof = str(form.get("t", "")), str(form.get("s", ""))
        order = _by_token(state, token, proof)
        if order is None:
            return HTMLResponse(_page("MoMo", "<p>Unknown or tampered payment link.</p>"), 404)
        try:
            notified = state.settle(order, str(form.get("outcome", "")), None, None)
        except ControlError as exc:
            return HTMLResponse(_page("MoMo", f"<p>{html.escape(str(exc))}</p>"), exc.status)
        if not notified:
            return HTMLResponse(_page("MoMo", "<p>The order is left pending.</p>"))
        ipn = state.ipn_body(order)
        await notifier.send(order, ipn)
        if order.redirect_url:  # the redirect carries the IPN's fields and signature (A4)
            glue = "&" if "?" in order.redirect_url else "?"
            location = order.redirect_url + glue + urlencode({k: str(v) for k, v in ipn.items()})
            return RedirectResponse(location, status_code=303)
        text = html.escape(str(ipn["message"]))
        return HTMLResponse(_page("MoMo", f"<p>resultCode {order.result_code}: {text}</p>"))

    @app.post("/_emulator/orders/{order_id}/pay")
    async def control_pay(order_id: str, request: Request) -> Response:
        order = state.orders.get(order_id)
        if order is None:
            return JSONResponse({"error": "unknown order"}, 404)
        try:
            choice = await request.json()
            if not isinstance(choice, dict):
                raise ControlError(422, "the body must be a JSON object")
            code, pay_type = choice.get("result_code"), choice.get("pay_type")
            if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
                raise ControlError(422, "result_code must be an integer")
            if pay_type is not None and not isinstance(pay_type, str):
                raise ControlError(422, "pay_type must be a string")
            if not isinstance(choice.get("notify", True), bool):
                raise ControlError(422, "notify must be true or false")
            notified = state.settle(order, str(choice.get("outcome", "")), code, pay_type)
        except ValueError:
            return JSONResponse({"error": "the body must be JSON"}, 422)
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        ipn = None
        if notified:
            body = state.ipn_body(order)
            ipn = await notifier.send(order, body, deliver=choice.get("notify", True))
        return JSONResponse({"order": order.view(), "ipn": ipn})

    @app.post("/_emulator/orders/{order_id}/notify")
    async def control_notify(order_id: str) -> Response:
        order = state.orders.get(order_id)
        if order is None or not order.ipns:
            return JSONResponse({"error": "no IPN to send again"}, 404)
        return JSONResponse({"ipn": await notifier.resend(order)})

    @app.get("/_emulator/orders/{order_id}")
    async def control_order(order_id: str) -> Response:
        order = state.orders.get(order_id)
        if order is None:
            return JSONResponse({"error": "unknown order"}, 404)
        return JSONResponse(order.view())

    @app.get("/_emulator/calls")
    async def control_calls() -> Response:
        return JSONResponse(state.calls)

    @app.post("/_emulator/faults")
    async def control_faults(request: Request) -> Response:
        try:
            fault = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body must be JSON"}, 422)
        if not isinstance(fault, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, 422)
        operation, mode, times = fault.get("operation"), fault.get("mode"), fault.get("times", 1)
        if operation not in SIGNED_FIELDS or mode not in FAULT_MODES:
            return JSONResponse(
                {"error": f"operation in {list(SIGNED_FIELDS)}, mode in {FAULT_MODES}"}, 422
            )
        if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 100:
            return JSONResponse({"error": "times must be an integer from 1 to 100"}, 422)
        state.faults.setdefault(operation, []).extend([mode] * times)
        return JSONResponse({"faults": state.faults})

    return app


async def _handle(state: MomoState, notifier: Notifier, operation: str, request: Request) -> Answer:
    raw = await request.body()
    fault = state.take_fault(operation)
    if fault == "error":
        return Answer(500, {"resultCode": 99, "message": "Unknown error."})
    changed: Order | None = None
    try:
        body = transformers.loads(raw)
    except transformers.MalformedResponse:
        answer = state.refusal(Refusal(20, sub_errors=[{"field": "body", "message": "JSON"}]))
        state.calls.append({"operation": operation, "request": None, "answer": answer.body})
        return answer
    try:
        state.authenticate(body, SIGNED_FIELDS[operation])
    except Refusal as refusal:
        answer = state.refusal(refusal, **_echo(body))
        _record(state, operation, body, answer)
        return answer
    request_id = str(body["requestId"])
    replay = state.begin(request_id)
    if replay is not None:
        _record(state, operation, body, replay)
        return replay
    try:
        if operation == "create":
            answer = state.create(body, str(request.base_url).rstrip("/"))
        elif operation == "query":
            answer = state.query(body)
        elif operation == "confirm":
            answer, changed = state.confirm(body)
        else:
            answer = state.refund(body)
    except Refusal as refusal:
        answer = state.refusal(refusal, **_echo(body))
    if fault == "hang":
        await _hold(request, state.options.hang_seconds)
    state.finish(request_id, answer)
    _record(state, operation, body, answer)
    if changed is not None and state.options.ipn_on_confirm:
        notifier.later(changed, state.ipn_body(changed))
    return answer


async def _hold(request: Request, seconds: float) -> None:
    """Keep the answer back until the caller hangs up (its timeout) or `seconds` pass."""

    async def hung_up() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(hung_up(), timeout=seconds)


class Notifier:
    """Sends IPNs: the first attempt at once, retries (where configured) in the background."""

    def __init__(self, state: MomoState) -> None:
        self.state = state
        self.tasks: set[asyncio.Task[None]] = set()

    async def send(
        self, order: Order, body: dict[str, Any], *, deliver: bool = True
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "body": body,
            "raw": transformers.dumps(body).decode("utf-8"),
            "attempts": [],
        }
        order.ipns.append(record)
        if deliver:
            await self._deliver(order, record, retries=self.state.options.ipn_retries)
        return record

    async def resend(self, order: Order) -> dict[str, Any]:
        record = order.ipns[-1]
        await self._deliver(order, record, retries=0)
        return record

    def later(self, order: Order, body: dict[str, Any]) -> None:
        self._spawn(self.send(order, body))

    async def _deliver(self, order: Order, record: dict[str, Any], retries: int) -> None:
        if await self._attempt(order, record) or retries <= 0:
            return
        self._spawn(self._retry(order, record, retries))

    async def _retry(self, order: Order, record: dict[str, Any], retries: int) -> None:
        for _ in range(retries):
            await asyncio.sleep(self.state.options.ipn_retry_seconds)
            if await self._attempt(order, record):
                return

    async def _attempt(self, order: Order, record: dict[str, Any]) -> bool:
        options = self.state.options
        try:
            async with httpx.AsyncClient(timeout=options.ipn_timeout_seconds) as client:
                response = await client.post(
                    order.ipn_url,
                    content=record["raw"].encode("utf-8"),
                    headers={"Content-Type": "application/json; charset=UTF-8"},
                )
        except httpx.HTTPError as exc:
            record["attempts"].append({"error": type(exc).__name__})
            return False
        record["attempts"].append({"status": response.status_code})
        if options.ipn_accept == "204":
            return response.status_code == 204
        return response.is_success

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def _echo(body: dict[str, Any]) -> dict[str, Any]:
    return {
        key: body[key]
        for key in ("partnerCode", "requestId", "orderId")
        if isinstance(body.get(key), str)
    }


def _record(state: MomoState, operation: str, body: dict[str, Any], answer: Answer) -> None:
    state.calls.append(
        {
            "operation": operation,
            "request": transformers.plain(body),
            "status": answer.status,
            "answer": transformers.plain(answer.body),
        }
    )


def _json(answer: Answer) -> Response:
    return Response(
        content=transformers.dumps(transformers.plain(answer.body)),
        status_code=answer.status,
        media_type="application/json; charset=UTF-8",
    )


def _by_token(state: MomoState, token: str, proof: str) -> Order | None:
    order = state.by_token.get(token)
    expected = hmac_sha256_hex(state.options.secret_key.encode(), token.encode())
    if order is None or not constant_time_equals(expected, proof):
        return None
    return order


def _page(title: str, content: str) -> str:
    return (
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)} (emulator)</h1>{content}</body></html>"
    )


def _pay_page(order: Order, token: str, proof: str) -> str:
    amount = f"{order.amount:,}".replace(",", ".")
    hidden = (
        f"<input type='hidden' name='t' value='{html.escape(token)}'>"
        f"<input type='hidden' name='s' value='{html.escape(proof)}'>"
    )
    buttons = "".join(
        f"<button name='outcome' value='{value}'>{label}</button> "
        for value, label in (
            ("success", "Pay"),
            ("decline", "Decline"),
            ("pending", "Leave pending"),
        )
    )
    details = (
        f"<p>Order <code>{html.escape(order.order_id)}</code>: {amount} ₫</p>"
        f"<p>{html.escape(order.order_info)}</p>"
        f"<p>resultCode now: {order.result_code}</p>"
    )
    form = f"<form method='post' action='/v2/gateway/pay'>{hidden}{buttons}</form>"
    return _page("MoMo", details + form)
