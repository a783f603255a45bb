"""A small HTTP/1.1 client on asyncio streams, with kept-alive connections.

The harness sends its own traffic (preparing payments, webhooks at a fixed rate) from the same
2 cores as the server it measures, so it uses this instead of a general client: a request costs
a few microseconds of Python, not a few hundred.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class HttpError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    sent_at: float = 0.0  # time.monotonic() when the request was written to its connection

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False

    async def exchange(self, request: bytes, method: str) -> Response:
        sent_at = time.monotonic()
        self.writer.write(request)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("connection closed before the answer")
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HttpError(f"not an HTTP answer: {status_line!r}")
        status = int(parts[1])
        headers = await _read_headers(self.reader)
        body = await self._body(method, status, headers)
        self.used = True
        return Response(status, headers, body, sent_at)

    async def _body(self, method: str, status: int, headers: dict[str, str]) -> bytes:
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return await _read_chunked(self.reader)
        length = headers.get("content-length")
        if length is not None:
            return await self.reader.readexactly(int(length))
        return await self.reader.read()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readline()).split(b";")[0].strip(), 16)
        if size == 0:
            await _read_headers(reader)  # trailers
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


class HttpClient:
    """Requests to one origin over at most `max_connections` kept-alive connections."""

    def __init__(self, base_url: str, *, max_connections: int = 32, timeout: float = 60.0) -> None:
        parsed = urlsplit(base_url)
        if parsed.scheme != "http" or parsed.hostname is None:
            raise ValueError(f"only http:// origins are supported, not {base_url!r}")
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.timeout = timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Response:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        async with self._slots:
            return await asyncio.wait_for(self._send(request, method), self.timeout)

    async def post_json(
        self, path: str, payload: Any, headers: dict[str, str] | None = None
    ) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        return await self.request("POST", path, headers=all_headers, body=body)

    async def _send(self, request: bytes, method: str) -> Response:
        connection = self._idle.pop() if self._idle else await self._connect()
        try:
            response = await connection.exchange(request, method)
        except (ConnectionError, asyncio.IncompleteReadError):
            connection.close()
            if not connection.used:
                raise
            # The server closed a kept-alive connection while it was idle: nothing was read.
            connection = await self._connect()
            response = await connection.exchange(request, method)
        except BaseException:
            connection.close()
            raise
        if response.headers.get("connection", "").lower() == "close":
            connection.close()
        else:
            self._idle.append(connection)
        return response

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer)

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
