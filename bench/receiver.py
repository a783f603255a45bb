"""The merchant's application, as far as the benchmark needs one: a callback receiver that
answers 204 at once and records when each callback arrived.

A minimal asyncio HTTP/1.1 server (kept-alive connections, Content-Length bodies, which is
what payrelay's deliveries send): it runs in the harness process next to the webhook sender,
so it must cost little CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass

ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float  # time.monotonic() when the body was read
    event_type: str
    payment_id: str


class CallbackReceiver:
    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.first: dict[tuple[str, str], float] = {}  # (payment id, event type) -> arrival
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callbacks"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    def count(self, event_type: str) -> int:
        return sum(1 for key in self.first if key[1] == event_type)

    def reset(self) -> None:
        self.arrivals.clear()
        self.first.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                body = await _read_request(reader)
                if body is None:
                    return
                self._record(time.monotonic(), body)
                writer.write(ANSWER)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            with contextlib.suppress(Exception):
                writer.write(BAD_REQUEST)
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _record(self, at: float, body: bytes) -> None:
        try:
            payload = json.loads(body)
            event_type = str(payload["type"])
            payment_id = str(payload["data"]["id"])
        except (ValueError, KeyError, TypeError):
            event_type, payment_id = "unparsable", ""
        self.arrivals.append(Arrival(at, event_type, payment_id))
        self.first.setdefault((payment_id, event_type), at)


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """The body of the next request on the connection; None when the peer closed it."""
    request_line = await reader.readline()
    if not request_line:
        return None
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            return None
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return await reader.readexactly(length) if length else b""
