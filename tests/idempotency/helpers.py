"""Helpers shared by the reliability tests (idempotency, concurrency, gateway failures, inbox):
reading the rows behind a payment, the sandbox gateway's own ledger and the HTTP metrics."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import socket
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from payrelay.kit.db import Database
from tests import inbox

SANDBOX_CREATE_ROUTE = "/sandbox/api/v1/accounts/{account_id}/payments"
SANDBOX_OPERATE_ROUTE = "/sandbox/api/v1/accounts/{account_id}/payments/{transaction_id}/{action}"


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_body(**overrides: Any) -> dict[str, Any]:
    """A fixed create body, so that two requests built from it are the same request."""
    body: dict[str, Any] = {
        "order_id": f"order-{uuid.uuid4().hex[:12]}",
        "amount": "150000",
        "currency": "VND",
        "gateway": "sandbox",
    }
    body.update(overrides)
    return body


async def post_create(
    http: httpx.AsyncClient,
    api_key: str,
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api_key}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await http.post("/api/v1/payments/create", json=body, headers=headers)


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


# --- rows ------------------------------------------------------------------------------------


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.session() as session:
        return (await session.execute(text(sql), params)).scalar()


async def rows(db: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with db.session() as session:
        result = await session.execute(text(sql), params)
        return [dict(row) for row in result.mappings().all()]


async def execute(db: Database, sql: str, **params: Any) -> None:
    async with db.transaction() as session:
        await session.execute(text(sql), params)


async def payment_request_count(db: Database, merchant_id: uuid.UUID) -> int:
    return int(
        await scalar(
            db, "SELECT count(*) FROM payment_requests WHERE merchant_id = :m", m=merchant_id
        )
    )


async def operations(
    db: Database, payment_id: str | uuid.UUID, kind: str | None = None
) -> list[dict[str, Any]]:
    """The payment's gateway operations (create, capture, void, refund), oldest first."""
    return await rows(
        db,
        """
        SELECT o.* FROM payment_operations o
        JOIN payment_transactions t ON t.id = o.payment_transaction_id
        WHERE t.payment_request_id = :p AND (CAST(:kind AS text) IS NULL OR o.kind = :kind)
        ORDER BY o.created_at, o.id
        """,
        p=uuid.UUID(str(payment_id)),
        kind=kind,
    )


async def create_operation(db: Database, payment_id: str | uuid.UUID) -> dict[str, Any]:
    found = await operations(db, payment_id, "create")
    assert len(found) == 1, found
    return found[0]


async def sandbox_rows(db: Database, account_id: int) -> list[dict[str, Any]]:
    """The sandbox gateway's ledger for one account: what the gateway itself recorded."""
    return await rows(
        db,
        "SELECT * FROM sandbox_transactions WHERE account_id = :a ORDER BY created_at",
        a=account_id,
    )


async def sandbox_row(db: Database, payment_id: str | uuid.UUID) -> dict[str, Any]:
    found = await rows(
        db,
        "SELECT * FROM sandbox_transactions WHERE payment_reference = :p",
        p=uuid.UUID(str(payment_id)),
    )
    assert len(found) == 1, found
    return found[0]


async def account_config(db: Database, account_id: int) -> dict[str, Any]:
    config: dict[str, Any] = await scalar(
        db, "SELECT config FROM payment_gateways WHERE id = :a", a=account_id
    )
    return config


async def set_base_url(db: Database, account_id: int, base_url: str | None) -> None:
    await execute(
        db, "UPDATE payment_gateways SET base_url = :u WHERE id = :a", u=base_url, a=account_id
    )


async def idempotency_key_row(
    db: Database, merchant_id: uuid.UUID, key: str
) -> dict[str, Any] | None:
    found = await rows(
        db,
        "SELECT * FROM idempotency_keys WHERE merchant_id = :m AND key = :k",
        m=merchant_id,
        k=key,
    )
    return found[0] if found else None


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [event["event_type"] for event in events]


# --- metrics ---------------------------------------------------------------------------------

# Greedy: route templates contain braces of their own.
_SAMPLE = re.compile(r"^payrelay_http_requests_total\{(?P<labels>.*)\}\s+(?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


async def http_requests(http: httpx.AsyncClient, route: str, method: str = "POST") -> float:
    """`payrelay_http_requests_total` for one route, summed over statuses. The server runs in
    this process, so a before/after difference counts the calls made in between."""
    response = await http.get("/metrics")
    assert response.status_code == 200
    total = 0.0
    for line in response.text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        if labels.get("route") == route and labels.get("method") == method:
            total += float(match["value"])
    return total


# --- webhooks --------------------------------------------------------------------------------


def sandbox_signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`, computed here independently."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def sandbox_event(
    payment: dict[str, Any],
    status: str,
    *,
    event_id: str | None = None,
    created: int | None = None,
) -> bytes:
    """A sandbox notification body for `payment` (a sandbox_transactions row) in `status`."""
    amount = f"{payment['amount'].normalize():f}"
    captured = amount if status in ("captured", "refunded", "partially_refunded") else "0"
    data = {
        "id": payment["id"],
        "payment_reference": str(payment["payment_reference"]),
        "order_reference": payment["order_reference"],
        "status": status,
        "amount": amount,
        "currency": payment["currency"],
        "capture_method": payment["capture_method"],
        "captured_amount": captured,
        "refunded_amount": "0",
        "checkout_url": None,
        "decline_code": "card_declined" if status == "declined" else None,
        "decline_message": "declined" if status == "declined" else None,
        "operations": [],
    }
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
            "type": f"payment.{status}",
            "created": int(time.time()) if created is None else created,
            "data": data,
        },
        separators=(",", ":"),
    ).encode()


async def post_webhook(
    http: httpx.AsyncClient,
    account_id: int,
    body: bytes,
    signature: str | None,
    code: str = "sandbox",
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Sandbox-Signature"] = signature
    response = await http.post(f"/webhooks/{code}/{account_id}", content=body, headers=headers)
    if response.status_code == 200:
        await inbox.drained(account_id)  # the worker applies it asynchronously
    return response


async def webhook_rows(db: Database, account_id: int) -> list[dict[str, Any]]:
    return await rows(
        db,
        "SELECT * FROM payment_webhooks WHERE gateway_account_id = :a ORDER BY id",
        a=account_id,
    )


# --- a gateway that never answers ------------------------------------------------------------


@dataclass
class SilentGateway:
    """A TCP server that reads each HTTP request and never answers it: the gateway got the
    request, so its outcome is unknown to the caller once the read times out."""

    received: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[bytes] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> SilentGateway:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            self.requests.append(head + body)
            self.received.set()
            # Hold the connection open without answering until the caller gives up.
            waits = [
                asyncio.ensure_future(self.release.wait()),
                asyncio.ensure_future(reader.read()),
            ]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def header(self, index: int, name: str) -> str | None:
        head = self.requests[index].split(b"\r\n\r\n", 1)[0].decode("latin-1")
        for line in head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    async def stop(self) -> None:
        self.release.set()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def gather_all(*calls: Awaitable[httpx.Response]) -> list[httpx.Response]:
    return list(await asyncio.gather(*calls))
