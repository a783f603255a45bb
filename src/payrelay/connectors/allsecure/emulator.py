"""`payrelay emulate allsecure --port N`: a local stand-in for AllSecure's (IXOPAY) gateway.

The Transaction API (`POST /api/v3/transaction/{apiKey}/{debit|preauthorize|capture|void|
refund}`) and the status API (`GET /api/v3/status/{apiKey}/getByUuid/{uuid}`,
`.../getByMerchantTransactionId/{id}`) check Basic auth, the API key and `X-Signature` and answer
with IXOPAY's shapes and codes. A debit or preauthorize answers REDIRECT to the payment page
(`/redirect/{uuid}/{token}`) where a person approves, declines or cancels (3-D Secure when the
scenario asks for it); signed callbacks then go to the transaction's `callbackUrl`, and only
`200 OK` with body `OK` counts as received. Scripts and tests use the control API:

- `POST /_emulator/next` `{"outcome": "redirect"|"approve"|"decline"|"pending",
  "three_d_secure"?, "error_code"?, "adapter_code"?, "adapter_message"?, "times"?}`: what the
  next debits or preauthorizes answer;
- `POST /_emulator/transactions/{uuid}/complete` `{"outcome": "approve"|"decline"|"cancel",
  "error_code"?, "adapter_code"?, "adapter_message"?, "notify"?: true}`: the customer's choice;
- `POST /_emulator/transactions/{uuid}/notify`: send the last callback again (signed anew);
- `GET /_emulator/transactions[/{uuid}]`, `GET /_emulator/calls`;
- `POST /_emulator/faults` `{"operation": "debit"|…|"status", "mode": "error"|"hang",
  "times"?}`: HTTP 500 without doing anything, or do it and hold the answer back.

Everything lives in memory. Options: see `emulator_state.Options`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from payrelay.connectors.allsecure import signatures, transformers
from payrelay.connectors.allsecure.emulator_state import (
    AllSecureState,
    Answer,
    ControlError,
    Options,
    Refusal,
    Scenario,
    Transaction,
)

ACTIONS = ("debit", "preauthorize", "capture", "void", "refund")
OPERATIONS = (*ACTIONS, "status")
FAULT_MODES = ("error", "hang")
SCENARIOS = ("redirect", "approve", "decline", "pending")
SYSTEM_ERROR = Answer(
    500, {"success": False, "errorMessage": "System Error occurred", "errorCode": 1008}
)


def create_app(options: dict[str, str]) -> FastAPI:
    state = AllSecureState(Options.parse(options))
    notifier = Notifier(state)
    app = FastAPI(title="AllSecure emulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/api/v3/transaction/{api_key}/{action}")
    async def transaction(api_key: str, action: str, request: Request) -> Response:
        if action not in ACTIONS:
            return _json(
                Refusal(1002, f"unsupported transaction type {action}").answer(state.options)
            )

        def run(body: dict[str, Any]) -> tuple[Answer, Transaction | None]:
            if action in ("debit", "preauthorize"):
                answer = state.create(action.upper(), body, str(request.base_url).rstrip("/"))
                return answer, state.transactions[answer.body["uuid"]]
            changed = getattr(state, action)(body)
            return changed.answer(), changed

        return await _handle(state, notifier, action, api_key, request, run)

    @app.get("/api/v3/status/{api_key}/{lookup}/{value}")
    async def status(api_key: str, lookup: str, value: str, request: Request) -> Response:
        def run(_: dict[str, Any]) -> tuple[Answer, Transaction | None]:
            if lookup == "getByUuid":
                found = state.transactions.get(value)
            elif lookup == "getByMerchantTransactionId":
                found = state.by_id.get(value)
            else:
                raise Refusal(1002, f"unknown status lookup {lookup}")
            if found is None:  # an answer of the status API, not a refused request: HTTP 200
                return Answer(
                    200, Refusal(8001, "Transaction not found").answer(state.options).body
                ), None
            return Answer(200, found.status_body()), None

        return await _handle(state, notifier, "status", api_key, request, run)

    @app.get("/redirect/{uuid}/{token}")
    async def payment_page(uuid: str, token: str) -> Response:
        found = state.by_token(uuid, token)
        if found is None:
            return HTMLResponse(_page("<p>Unknown or tampered payment link.</p>"), 404)
        return HTMLResponse(_payment_page(found))

    @app.post("/redirect/{uuid}/{token}")
    async def payment_choice(uuid: str, token: str, request: Request) -> Response:
        found = state.by_token(uuid, token)
        if found is None:
            return HTMLResponse(_page("<p>Unknown or tampered payment link.</p>"), 404)
        outcome = str((await request.form()).get("outcome", ""))
        try:
            state.settle(found, outcome)
        except ControlError as exc:
            return HTMLResponse(_page(f"<p>{html.escape(str(exc))}</p>"), exc.status)
        await notifier.send(found)
        back = {"approve": "success", "decline": "error", "cancel": "cancel"}[outcome]
        if back in found.urls:  # only the callback is authoritative; the browser just returns
            return RedirectResponse(found.urls[back], status_code=303)
        return HTMLResponse(_page(f"<p>The payment is {html.escape(found.status)}.</p>"))

    @app.post("/_emulator/next")
    async def control_next(request: Request) -> Response:
        try:
            choice = await _object(request)
            scenario = _scenario(choice, choice.get("outcome"), SCENARIOS)
            times = choice.get("times", 1)
            if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 100:
                raise ControlError(422, "times must be an integer from 1 to 100")
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        state.scenarios.extend(Scenario(**vars(scenario)) for _ in range(times))
        return JSONResponse({"queued": len(state.scenarios)})

    @app.post("/_emulator/transactions/{uuid}/complete")
    async def control_complete(uuid: str, request: Request) -> Response:
        found = state.transactions.get(uuid)
        if found is None:
            return JSONResponse({"error": "unknown transaction"}, 404)
        try:
            choice = await _object(request)
            outcome = choice.get("outcome")
            scenario = _scenario(choice, outcome, ("approve", "decline", "cancel"))
            notify = choice.get("notify", True)
            if not isinstance(notify, bool):
                raise ControlError(422, "notify must be true or false")
            state.settle(found, str(outcome), scenario)
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        callback = await notifier.send(found, deliver=notify)
        return JSONResponse({"transaction": found.view(), "callback": callback})

    @app.post("/_emulator/transactions/{uuid}/notify")
    async def control_notify(uuid: str) -> Response:
        found = state.transactions.get(uuid)
        if found is None or not found.callbacks:
            return JSONResponse({"error": "no callback to send again"}, 404)
        return JSONResponse({"callback": await notifier.resend(found)})

    @app.get("/_emulator/transactions/{uuid}")
    async def control_transaction(uuid: str) -> Response:
        found = state.transactions.get(uuid)
        if found is None:
            return JSONResponse({"error": "unknown transaction"}, 404)
        return JSONResponse(found.view())

    @app.get("/_emulator/transactions")
    async def control_transactions() -> Response:
        return JSONResponse([found.view() for found in state.transactions.values()])

    @app.get("/_emulator/calls")
    async def control_calls() -> Response:
        return JSONResponse(state.calls)

    @app.post("/_emulator/faults")
    async def control_faults(request: Request) -> Response:
        try:
            fault = await _object(request)
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        operation, mode, times = fault.get("operation"), fault.get("mode"), fault.get("times", 1)
        if operation not in OPERATIONS or mode not in FAULT_MODES:
            return JSONResponse({"error": f"operation in {OPERATIONS}, mode in {FAULT_MODES}"}, 422)
        if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 100:
            return JSONResponse({"error": "times must be an integer from 1 to 100"}, 422)
        state.faults.setdefault(operation, []).extend([mode] * times)
        return JSONResponse({"faults": state.faults})

    return app


Run = Callable[[dict[str, Any]], tuple[Answer, Transaction | None]]


async def _handle(
    state: AllSecureState,
    notifier: Notifier,
    operation: str,
    api_key: str,
    request: Request,
    run: Run,
) -> Response:
    raw = await request.body()
    fault = state.take_fault(operation)
    if fault == "error":
        return _json(SYSTEM_ERROR)
    uri = request.scope["raw_path"].decode("latin-1")
    if request.scope.get("query_string"):
        uri += "?" + request.scope["query_string"].decode("latin-1")
    headers = {name.lower(): value for name, value in request.headers.items()}
    changed: Transaction | None = None
    body: dict[str, Any] = {}
    try:
        state.authenticate(request.method, uri, api_key, headers, raw)
        if request.method == "POST":
            try:
                body = transformers.loads(raw)
            except transformers.MalformedResponse:
                raise Refusal(1002, "the body must be a JSON object") from None
        answer, changed = run(body)
    except Refusal as refusal:
        answer = refusal.answer(state.options)
    if fault == "hang":
        await _hold(request, state.options.hang_seconds)
    state.calls.append(
        {
            "operation": operation,
            "path": uri,
            "request": transformers.plain(body) if body else None,
            "status": answer.status,
            "answer": answer.body,
        }
    )
    if changed is not None and changed.status != "REDIRECT" and changed.callback_url:
        notifier.later(changed)
    return _json(answer)


async def _hold(request: Request, seconds: float) -> None:
    """Keep the answer back until the caller hangs up (its timeout) or `seconds` pass."""

    async def hung_up() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(hung_up(), timeout=seconds)


class Notifier:
    """Sends callbacks, each attempt dated and signed when it is sent; retries in the
    background while the answer is not `200` with body `OK`."""

    def __init__(self, state: AllSecureState) -> None:
        self.state = state
        self.tasks: set[asyncio.Task[None]] = set()

    async def send(self, transaction: Transaction, *, deliver: bool = True) -> dict[str, Any]:
        body = transaction.callback_body()
        record: dict[str, Any] = {
            "body": body,
            "raw": transformers.dumps(body).decode("utf-8"),
            "attempts": [],
        }
        transaction.callbacks.append(record)
        if deliver and transaction.callback_url:
            await self._deliver(transaction, record, self.state.options.callback_retries)
        return record

    async def resend(self, transaction: Transaction) -> dict[str, Any]:
        record = transaction.callbacks[-1]
        await self._deliver(transaction, record, retries=0)
        return record

    def later(self, transaction: Transaction) -> None:
        self._spawn(self.send(transaction))

    async def _deliver(
        self, transaction: Transaction, record: dict[str, Any], retries: int
    ) -> None:
        if await self._attempt(transaction, record) or retries <= 0:
            return
        self._spawn(self._retry(transaction, record, retries))

    async def _retry(self, transaction: Transaction, record: dict[str, Any], retries: int) -> None:
        for _ in range(retries):
            await asyncio.sleep(self.state.options.callback_retry_seconds)
            if await self._attempt(transaction, record):
                return

    async def _attempt(self, transaction: Transaction, record: dict[str, Any]) -> bool:
        options, url = self.state.options, str(transaction.callback_url)
        raw = record["raw"].encode("utf-8")
        date = signatures.http_date(datetime.now(UTC))
        signature = signatures.sign(
            options.shared_secret,
            "POST",
            raw,
            signatures.CONTENT_TYPE,
            date,
            signatures.request_uri(url),
            "sha512" if options.callback_body_hash == "sha512" else "md5",
        )
        headers = {"Content-Type": signatures.CONTENT_TYPE, "Date": date, "X-Signature": signature}
        try:
            async with httpx.AsyncClient(timeout=options.callback_timeout_seconds) as client:
                response = await client.post(url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            record["attempts"].append({"error": type(exc).__name__})
            return False
        record["attempts"].append({"status": response.status_code, "body": response.text[:100]})
        return response.status_code == 200 and response.content == b"OK"

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


async def _object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ControlError(422, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise ControlError(422, "the body must be a JSON object")
    return body


def _scenario(choice: dict[str, Any], outcome: Any, allowed: tuple[str, ...]) -> Scenario:
    if outcome not in allowed:
        raise ControlError(422, f"outcome must be one of {', '.join(allowed)}")
    scenario = Scenario(outcome=str(outcome))
    secure = choice.get("three_d_secure", False)
    if not isinstance(secure, bool):
        raise ControlError(422, "three_d_secure must be true or false")
    scenario.three_d_secure = secure
    code = choice.get("error_code")
    if code is not None:
        if not isinstance(code, int) or isinstance(code, bool) or not 1000 <= code <= 9999:
            raise ControlError(422, "error_code must be an IXOPAY error code (1000-9999)")
        scenario.error_code = code
    for name in ("adapter_code", "adapter_message"):
        value = choice.get(name, getattr(scenario, name))
        if value is not None and not isinstance(value, str):
            raise ControlError(422, f"{name} must be a string")
        setattr(scenario, name, value)
    return scenario


def _json(answer: Answer) -> Response:
    return Response(
        content=transformers.dumps(answer.body),
        status_code=answer.status,
        media_type="application/json; charset=utf-8",
    )


def _page(content: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>AllSecure</title></head><body>"
        f"<h1>AllSecure (emulator)</h1>{content}</body></html>"
    )


def _payment_page(found: Transaction) -> str:
    title = "3-D Secure verification" if found.three_d_secure else "Card payment"
    buttons = "".join(
        f"<button name='outcome' value='{value}'>{label}</button> "
        for value, label in (("approve", "Pay"), ("decline", "Decline"), ("cancel", "Cancel"))
    )
    amount = f"{found.amount} {found.currency}"
    details = (
        f"<h2>{title}</h2><p>{html.escape(found.transaction_type)} {html.escape(amount)}</p>"
        f"<p>{html.escape(found.description or '')}</p><p>Status: {found.status}</p>"
    )
    action = f"/redirect/{html.escape(found.uuid)}/{html.escape(found.token)}"
    return _page(details + f"<form method='post' action='{action}'>{buttons}</form>")
