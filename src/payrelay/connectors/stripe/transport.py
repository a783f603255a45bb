"""The `stripe` package's HTTP client, over the connector's shared `httpx.AsyncClient`.

The package's own httpx client opens its own connection pool with an 80 s timeout and turns every
transport failure into one `APIConnectionError`. This one uses payrelay's client (its pool, its
gateway timeout) and tells the two failures the core must tell apart: nothing reached Stripe
(`GatewayNotSent`: safe to resend) or the answer was lost (`GatewayOutcomeUnknown`). Both pass
through the package untouched: it only catches `APIConnectionError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, NoReturn

import httpx
import stripe

from payrelay.connectors.base import GatewayNotSent, GatewayOutcomeUnknown


class SharedHttpxClient(stripe.HTTPClient):
    name = "payrelay-httpx"

    def __init__(self, http: httpx.AsyncClient) -> None:
        super().__init__()
        self._http = http

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        content = post_data.encode("utf-8") if isinstance(post_data, str) else post_data
        try:
            response = await self._http.request(
                method.upper(), url, headers=dict(headers), content=content
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise GatewayNotSent(f"{type(exc).__name__}: {exc}") from exc
        except httpx.TransportError as exc:
            raise GatewayOutcomeUnknown(f"{type(exc).__name__}: {exc}") from exc
        return response.content, response.status_code, response.headers

    def sleep_async(self, secs: float) -> Any:
        return asyncio.sleep(secs)

    async def close_async(self) -> None:
        return None  # the client belongs to payrelay

    def request(
        self, method: str, url: str, headers: Any, post_data: Any = None, **_: Any
    ) -> NoReturn:
        raise NotImplementedError("payrelay calls Stripe asynchronously only")

    def close(self) -> None:
        return None
