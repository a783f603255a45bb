"""The FastAPI application: lifespan (database, HTTP client), middleware, error handlers, routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from payrelay import __version__
from payrelay.callback import endpoints as callback_endpoints
from payrelay.config import Settings, get_settings
from payrelay.database import open_database
from payrelay.escrow import endpoints as escrow_endpoints
from payrelay.exceptions import (
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    PayrelayError,
    ValidationFailed,
)
from payrelay.logging import get_logger
from payrelay.middleware import BodyTooLarge, RequestContextMiddleware, payload_too_large
from payrelay.ops import endpoints as ops_endpoints
from payrelay.payment import endpoints as payment_endpoints
from payrelay.payment import returns as payment_returns
from payrelay.payment.orchestrator import PaymentOrchestrator
from payrelay.sandbox import endpoints as sandbox_endpoints
from payrelay.statistics import endpoints as statistics_endpoints
from payrelay.web import AppState
from payrelay.webhook_in import endpoints as webhook_endpoints
from payrelay.worker.runner import Worker

log = get_logger(__name__)

DESCRIPTION = """Self-hosted payments between your application and your gateways.

Authenticate with `Authorization: Bearer <api key>`. Amounts are decimal strings in the
currency's unit (`"150000"` VND, `"1250.50"` RSD). Every error is
`{"error": {"code", "message", "details"}}`. Mutating calls accept `Idempotency-Key`
(required to create a payment): a retry with the same key replays the first answer.
"""


def create_app(
    settings: Settings | None = None,
    database_url: str | None = None,
    *,
    with_worker: bool = False,
) -> FastAPI:
    """The HTTP API; `with_worker` also runs the worker in the same process (role `all`)."""
    settings = settings or get_settings()
    url = database_url or (
        settings.database_url.get_secret_value() if settings.database_url else None
    )
    if url is None:
        raise RuntimeError("create_app needs a database URL (payrelay serve resolves one)")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(url, settings)
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.gateway_timeout_seconds, connect=5.0),
            follow_redirects=False,
            headers={"User-Agent": f"payrelay/{__version__}"},
        )
        app.state.payrelay = AppState(
            settings=settings, db=db, http=http, payments=PaymentOrchestrator(db, http, settings)
        )
        worker = Worker(db, http, settings) if with_worker else None
        worker_task = asyncio.create_task(worker.run(), name="payrelay-worker") if worker else None
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                worker.stop()
                await worker_task
            await http.aclose()
            await db.dispose()

    app = FastAPI(
        title="payrelay",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    _install_error_handlers(app, settings.max_body_bytes)
    app.include_router(ops_endpoints.router)
    app.include_router(payment_endpoints.router)
    app.include_router(escrow_endpoints.router)
    app.include_router(statistics_endpoints.router)
    app.include_router(callback_endpoints.router)
    app.include_router(webhook_endpoints.router)
    app.include_router(payment_returns.router)
    app.include_router(sandbox_endpoints.router)
    app.include_router(sandbox_endpoints.api)
    return app


def _error(error: PayrelayError) -> JSONResponse:
    return JSONResponse(
        error.to_body(), status_code=error.status_code, headers=error.headers or None
    )


def _install_error_handlers(app: FastAPI, max_body_bytes: int) -> None:
    @app.exception_handler(PayrelayError)
    async def payrelay_error(_: Request, exc: PayrelayError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        if any(problem.get("type") == "json_invalid" for problem in problems):
            return _error(MalformedJson("request body is not valid JSON"))
        return _error(
            ValidationFailed(
                "request does not match the schema",
                details=[_problem(problem) for problem in problems],
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI turns any failure while reading a JSON body into a bare 400: the size limit
        # passed mid-stream (no Content-Length), or bytes json.loads cannot decode.
        if isinstance(exc.__cause__, BodyTooLarge):
            return _error(payload_too_large(max_body_bytes))
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            return _error(MalformedJson("request body is not valid JSON"))
        if exc.status_code == 404:
            return _error(NotFound("no such route"))
        if exc.status_code == 405:
            return _error(MethodNotAllowed("method not allowed on this route"))
        body = {"error": {"code": "http_error", "message": str(exc.detail), "details": None}}
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unhandled_error", error=type(exc).__name__)
        return _error(PayrelayError("internal error; nothing about it is your fault"))


def _problem(problem: Any) -> dict[str, Any]:
    """A validation problem without the offending input (it may hold secrets)."""
    return {
        "loc": [str(part) for part in problem.get("loc", ())],
        "message": str(problem.get("msg", "")),
        "type": str(problem.get("type", "")),
    }
