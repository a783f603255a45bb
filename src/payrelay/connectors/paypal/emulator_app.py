"""The PayPal emulator without a web framework: each HTTP call as plain values in, an `Answer`
out (`emulator.py` only routes). API calls are authenticated, deduplicated on
`PayPal-Request-Id`, recorded, and their webhooks published."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from payrelay.connectors.paypal import emulator_render as render
from payrelay.connectors.paypal.emulator_notify import Notifier, Transmission
from payrelay.connectors.paypal.emulator_rules import ControlError, PaypalState
from payrelay.connectors.paypal.emulator_state import ApiError, Options, Order, invalid, not_found

OPERATIONS = (
    "token", "create", "show_order", "capture_order", "authorize_order", "capture", "void",
    "refund", "show", "verify",
)  # fmt: skip
FAULT_MODES = ("error", "hang")
VERIFY_FIELDS = (
    "auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time",
    "webhook_id", "webhook_event",
)  # fmt: skip
Handler = Callable[[str, dict[str, Any]], tuple[int, str, str]]  # → (status, kind, resource id)
Hold = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any = None  # JSON; None: no body
    html: str | None = None
    location: str | None = None  # a 303 redirect


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    base: str  # the emulator's own URL, for links


def server_error() -> ApiError:
    return ApiError(500, "INTERNAL_SERVER_ERROR", "An internal server error occurred.")


def parse_json(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.") from None
    if not isinstance(body, dict):
        raise invalid("MALFORMED_REQUEST_JSON", "The request JSON is not an object.")
    return body


def failed(exc: ApiError) -> Answer:
    return Answer(exc.status, render.error(exc))


def return_location(options: Options, url: str, order: Order, with_payer: bool = True) -> str:
    """Where PayPal sends the buyer back: the URL with `token` (and `PayerID`) added [?]."""
    params = {"token": order.id}
    if with_payer and options.return_payer_id and order.payer:
        params["PayerID"] = order.payer["payer_id"]
    return url + ("&" if "?" in url else "?") + urlencode(params)


class Emulator:
    def __init__(self, options: Options) -> None:
        self.state = PaypalState(options)
        self.notifier = Notifier(options)

    # --- webhooks -----------------------------------------------------------------------------

    async def publish(self, base: str, *, background: bool, deliver: bool = True) -> list[Any]:
        """Send the events the last call queued: after an API call in the background, as PayPal
        does; after the buyer's or a control call before answering (the answer tells)."""
        sent: list[Transmission] = []
        for event_type, kind, resource_id in self.state.take_events():
            resource = render.resource(self.state, kind, resource_id, base)
            sent += self.notifier.publish(
                self._order_of(kind, resource_id).client_id,
                event_type,
                kind,
                resource,
                base,
                self.state.clock(),
            )
        if deliver and not self.notifier.held:
            for item in sent:
                if background:
                    self.notifier.spawn(self.notifier.deliver(item))
                else:
                    await self.notifier.deliver(item)
        return [item.view() for item in sent]

    def _order_of(self, kind: str, resource_id: str) -> Order:
        state = self.state
        if kind == "checkout-order":
            return state.orders[resource_id]
        if kind == "authorization":
            return state.orders[state.authorizations[resource_id].order_id]
        if kind == "capture":
            return state.orders[state.captures[resource_id].order_id]
        return state.orders[state.refunds[resource_id].order_id]

    # --- PayPal's API -------------------------------------------------------------------------

    def token(self, call: Call) -> Answer:
        state = self.state
        if state.take_fault("token") == "error":
            return Answer(500, {"error": "server_error"})
        client_id = _basic(call.headers.get("authorization"), state.options)
        if client_id is None:
            return Answer(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        form = call.body.decode("utf-8", "replace").split("&")
        if "grant_type=client_credentials" not in form:
            return Answer(
                400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}
            )
        state.calls.append({"operation": "token", "path": call.path, "status": 200})
        return Answer(200, state.issue_token(client_id))

    async def api(
        self, call: Call, operation: str, handler: Handler, kind: str, hold: Hold
    ) -> Answer:
        """One API call: faults, bearer token, PayPal-Request-Id replay, the work, the record."""
        state = self.state
        fault = state.take_fault(operation)
        request_id = call.headers.get("paypal-request-id") if call.method == "POST" else None
        record: dict[str, Any] = {"operation": operation, "path": call.path}
        record["request_id"] = request_id
        if fault == "error":
            state.calls.append({**record, "status": 500})
            return failed(server_error())
        minimal = "return=representation" not in call.headers.get("prefer", "")
        try:
            client = state.authenticate(call.headers.get("authorization"))
            body = parse_json(call.body) if call.method == "POST" else {}
            record["request"] = body
            stored = state.begin(client, request_id, kind) if kind else None
            if stored is not None:  # a replay: the current state of what the first one made
                status, name, resource_id = (
                    state.options.replay_status,
                    stored.kind,
                    stored.resource_id,
                )
                if name == "authorization":
                    status = 200
            else:
                try:
                    status, name, resource_id = handler(client, body)
                except ApiError:
                    if kind:
                        state.finish(client, request_id, None)
                    raise
                if fault == "hang":
                    await hold()
                if kind:
                    state.finish(client, request_id, resource_id)
        except ApiError as exc:
            state.calls.append({**record, "status": exc.status, "answer": render.error(exc)})
            await self.publish(call.base, background=True)  # an authorization may have lapsed
            return failed(exc)
        assert resource_id is not None
        payload: Any = render.resource(state, name, resource_id, call.base)
        if minimal and operation == "void":
            status, payload = 204, None
        elif minimal and name == "order":
            payload = render.order(state, state.orders[resource_id], call.base, minimal=True)
        state.calls.append({**record, "status": status, "answer": payload})
        await self.publish(call.base, background=True)
        return Answer(status, payload)

    def verify(self, call: Call) -> Answer:
        state = self.state
        if state.take_fault("verify") == "error":
            return failed(server_error())
        try:
            state.authenticate(call.headers.get("authorization"))
            body = parse_json(call.body)
            for name in VERIFY_FIELDS:
                if name not in body:
                    raise invalid("MISSING_REQUIRED_PARAMETER", f"{name} is required.", f"/{name}")
            hook = body["webhook_id"]
            if not isinstance(hook, str) or not hook.isalnum() or len(hook) > 50:
                raise invalid("INVALID_PARAMETER_SYNTAX", "webhook_id is invalid.", "/webhook_id")
        except ApiError as exc:
            return failed(exc)
        result = self.notifier.verify(body, state.verify_result)
        state.calls.append({"operation": "verify", "path": call.path, "status": 200,
                            "answer": result})  # fmt: skip
        return Answer(200, {"verification_status": result})

    def register_webhook(self, call: Call) -> Answer:
        try:
            client = self.state.authenticate(call.headers.get("authorization"))
            body = parse_json(call.body)
            url, types = body.get("url"), body.get("event_types")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise invalid("INVALID_PARAMETER_SYNTAX", "The webhook URL is not valid.", "/url")
            if not isinstance(types, list) or not types:
                raise invalid("MISSING_REQUIRED_PARAMETER", "event_types.", "/event_types")
        except ApiError as exc:
            return failed(exc)
        names = [str(t.get("name")) for t in types if isinstance(t, dict)]
        return Answer(201, self.notifier.register(client, url, names).view(call.base))

    def list_webhooks(self, call: Call) -> Answer:
        try:
            client = self.state.authenticate(call.headers.get("authorization"))
        except ApiError as exc:
            return failed(exc)
        hooks = self.notifier.webhooks.values()
        return Answer(
            200, {"webhooks": [h.view(call.base) for h in hooks if h.client_id == client]}
        )

    async def resend(self, call: Call, event_id: str) -> Answer:
        """PayPal's resend: a new transmission (id, time, signature) of the same event."""
        try:
            client = self.state.authenticate(call.headers.get("authorization"))
        except ApiError as exc:
            return failed(exc)
        notifier = self.notifier
        event, earlier = notifier.events.get(event_id), notifier.of_event(event_id)
        if event is None or not earlier:
            return failed(not_found())
        hooks = [notifier.webhooks.get(hook_id) for hook_id in {t.webhook_id for t in earlier}]
        sent = [
            notifier.transmit(hook, event, call.base, self.state.clock())
            for hook in hooks
            if hook is not None and hook.client_id == client
        ]
        for item in sent:
            await notifier.deliver(item, retries=0)
        return Answer(202, {"id": event_id, "transmissions": [t.view() for t in sent]})

    # --- the buyer --------------------------------------------------------------------------

    async def buyer(self, base: str, order_id: str, choice: str, *, notify: bool = True) -> Answer:
        """The buyer on PayPal's pages: `balance`, `declined`, `card_3ds` (challenge first),
        `cancel`, or the challenge's `3ds_passed` / `3ds_failed`. Answers where the buyer goes
        next, and (in `body`) the order and the webhooks sent."""
        state = self.state
        order = state.orders.get(order_id)
        if order is None:
            raise ControlError(404, "unknown order")
        if choice == "cancel":
            location = return_location(state.options, order.cancel_url, order, with_payer=False)
            return Answer(303, {"order": render.order(state, order, base)}, location=location)
        if choice in ("3ds_passed", "3ds_failed"):
            approved = state.three_ds(order, choice == "3ds_passed")
        else:
            approved = state.approve(order, choice)
        webhooks = await self.publish(base, background=False, deliver=notify)
        if approved:
            location = return_location(state.options, order.return_url, order)
        elif order.funding == "card_3ds":
            location = render.three_ds_url(base, order)
        else:  # a failed challenge: back to choose another way to pay
            location = render.approve_url(base, order)
        body = {"order": render.order(state, order, base), "webhooks": webhooks,
                "redirect": location}  # fmt: skip
        return Answer(303, body, location=location)

    # --- control --------------------------------------------------------------------------------

    async def control(self, action: str, target: str, raw: bytes, base: str) -> Answer:
        state, notifier = self.state, self.notifier
        try:
            body = parse_json(raw)
        except ApiError:
            return Answer(422, {"error": "the body must be a JSON object"})
        try:
            if action == "approve":
                capture_status = body.get("capture_status", "COMPLETED")
                if capture_status not in ("COMPLETED", "PENDING", "DECLINED"):
                    raise ControlError(422, "capture_status: COMPLETED, PENDING or DECLINED")
                funding = str(body.get("funding", "balance"))
                if funding == "cancel":
                    raise ControlError(422, "funding: balance, declined or card_3ds")
                order = state.orders.get(target)
                if order is not None:
                    order.capture_status = capture_status
                answer = await self.buyer(base, target, funding, notify=body.get("notify", True))
                return Answer(200, answer.body)
            if action == "3ds":
                choice = "3ds_passed" if body.get("passed") is True else "3ds_failed"
                answer = await self.buyer(base, target, choice, notify=body.get("notify", True))
                return Answer(200, answer.body)
        except ControlError as exc:
            return Answer(exc.status, {"error": str(exc)})
        if action == "order":
            found = state.orders.get(target)
            if found is None:
                return Answer(404, {"error": "unknown order"})
            return Answer(200, {**render.order(state, found, base), "funding": found.funding})
        if action == "events":
            return Answer(200, [
                {**event, "transmissions": [t.view() for t in notifier.of_event(event["id"])]}
                for event in notifier.events.values()
            ])  # fmt: skip
        if action == "deliver":  # the event's transmissions (again), byte for byte
            sent = notifier.of_event(target)
            if not sent:
                return Answer(404, {"error": "unknown event"})
            for item in sent:
                await notifier.deliver(item, retries=0)
            return Answer(200, {"transmissions": [t.view() for t in sent]})
        if action == "settings":
            return self._settings(body)
        if action == "clock":
            seconds = body.get("advance_seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                return Answer(422, {"error": "advance_seconds must be a number ≥ 0"})
            state.clock.offset += seconds
            return Answer(200, {"offset_seconds": state.clock.offset})
        if action == "revoke":
            return Answer(200, {"revoked": state.revoke_tokens()})
        if action == "faults":
            return self._faults(body)
        if action == "calls":
            return Answer(200, state.calls)
        return Answer(404, {"error": "unknown control"})

    def _settings(self, body: Mapping[str, Any]) -> Answer:
        state, notifier = self.state, self.notifier
        if "hold_webhooks" in body:
            notifier.held = body["hold_webhooks"] is True
        if "verify_result" in body:
            if body["verify_result"] not in ("auto", "SUCCESS", "FAILURE"):
                return Answer(422, {"error": "verify_result: auto, SUCCESS or FAILURE"})
            state.verify_result = body["verify_result"]
        return Answer(200, {"hold_webhooks": notifier.held, "verify_result": state.verify_result})

    def _faults(self, body: Mapping[str, Any]) -> Answer:
        operation, mode, times = body.get("operation"), body.get("mode"), body.get("times", 1)
        if operation not in OPERATIONS or mode not in FAULT_MODES:
            return Answer(422, {"error": f"operation in {OPERATIONS}, mode in {FAULT_MODES}"})
        if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 100:
            return Answer(422, {"error": "times must be an integer from 1 to 100"})
        self.state.faults.setdefault(str(operation), []).extend([str(mode)] * times)
        return Answer(200, {"faults": self.state.faults})


def _basic(header: str | None, options: Options) -> str | None:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    if client_id == options.client_id and secret == options.client_secret:
        return client_id
    return None
