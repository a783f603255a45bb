"""ASGI middleware: request ids, structured access logs, route metrics and the body size limit."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson
import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payrelay.exceptions import BadRequest, PayloadTooLarge, PayrelayError
from payrelay.logging import get_logger

log = get_logger("payrelay.http")

REQUESTS = Counter(
    "payrelay_http_requests", "HTTP requests by route and status.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "payrelay_http_request_duration_seconds",
    "HTTP request latency by route.",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


def _has_nul(query: bytes) -> bool:
    return b"\x00" in query or b"%00" in query.lower()


class BodyTooLarge(Exception):
    """The body passed the limit while being read (the app may see it wrapped, see app.py)."""


def payload_too_large(limit_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"request body larger than {limit_bytes} bytes", details={"limit_bytes": limit_bytes}
    )


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value for key, value in scope["headers"]}
        given = headers.get("x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = {"code": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        if _has_nul(scope.get("query_string", b"")):
            await self._refuse(send_with_id, BadRequest("the query string contains NUL characters"))
            self._observe(scope, 400, time.perf_counter() - started)
            structlog.contextvars.clear_contextvars()
            return
        try:
            declared = int(headers.get("content-length", b"0") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > self.max_body_bytes:
                raise BodyTooLarge
            await self.app(scope, self._limited(receive), send_with_id)
        except BodyTooLarge:
            if status["started"]:
                raise
            await self._too_large(send_with_id)
        finally:
            self._observe(scope, int(status["code"]), time.perf_counter() - started)
            structlog.contextvars.clear_contextvars()

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        return limited_receive

    async def _too_large(self, send: Send) -> None:
        await self._refuse(send, payload_too_large(self.max_body_bytes))

    @staticmethod
    async def _refuse(send: Send, error: PayrelayError) -> None:
        body = orjson.dumps(error.to_body())
        await send(
            {
                "type": "http.response.start",
                "status": error.status_code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _observe(scope: Scope, status: int, elapsed: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        REQUESTS.labels(method=method, route=template, status=str(status)).inc()
        LATENCY.labels(method=method, route=template).observe(elapsed)
        log.info(
            "http.request",
            method=method,
            path=scope.get("path"),
            route=template,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
        )
