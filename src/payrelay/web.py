"""What every HTTP edge needs: the shared state, the merchant dependency, JSON responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from payrelay.config import Settings
from payrelay.exceptions import Unauthorized
from payrelay.kit.db import Database
from payrelay.merchant import service as merchant_service
from payrelay.models import Merchant
from payrelay.payment.orchestrator import PaymentOrchestrator


@dataclass
class AppState:
    settings: Settings
    db: Database
    http: httpx.AsyncClient
    payments: PaymentOrchestrator


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.payrelay
    return state


_bearer = HTTPBearer(auto_error=False, description="The merchant's API key.")


async def current_merchant(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Merchant:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized(
            "send the API key as `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    state = app_state(request)
    async with state.db.transaction() as session:
        merchant = await merchant_service.authenticate(session, credentials.credentials)
    request.state.merchant_id = str(merchant.id)
    return merchant


CurrentMerchant = Annotated[Merchant, Depends(current_merchant)]
State = Annotated[AppState, Depends(app_state)]
