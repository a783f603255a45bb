"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from payrelay.kit import migrate
from payrelay.logging import get_logger
from payrelay.ops import repository as ops_repository
from payrelay.web import State

log = get_logger(__name__)
router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database is reachable and migrated",
    responses={503: {"description": "Not ready"}},
)
async def readyz(state: State) -> JSONResponse:
    try:
        async with state.db.session() as session:
            applied = await ops_repository.applied_revisions(session)
    except Exception as exc:
        log.warning("readyz.database_unreachable", error=type(exc).__name__)
        return JSONResponse(
            {"status": "unavailable", "reason": "database unreachable"}, status_code=503
        )
    expected = migrate.current_heads()
    if applied != expected:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": "database not migrated",
                "applied": sorted(applied),
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
