"""The edge of every payment command: it owns the transactions and calls the gateway between them.

    1. one transaction claims the idempotency key and records the intent (an operation row);
    2. the gateway is called with no transaction open, with a key derived from the operation;
    3. one transaction applies the result and stores the response for replays.

A crash between 1 and 3 leaves a recorded operation and a key whose lease expires; the retry
resumes at step 2 with the same gateway key, so the gateway deduplicates and nothing is charged
twice. An unknown outcome is kept as such (never blindly resent after the gateway's key window).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel

from payrelay import connectors
from payrelay.config import Settings
from payrelay.connectors.base import (
    Connector,
    CreatePayment,
    GatewayNotSent,
    GatewayOutcomeUnknown,
    OperationOutcome,
    OperationRequest,
    OperationResult,
    PaymentResult,
)
from payrelay.enums import CaptureMethod, OperationKind, OperationStatus, PaymentStatus
from payrelay.exceptions import GatewayOutcomeUnknown as OutcomeUnknownError
from payrelay.exceptions import GatewayUnavailable, PayrelayError
from payrelay.gateway_account.service import account_context
from payrelay.idempotency import service as idempotency_service
from payrelay.kit.db import AsyncSession, Database
from payrelay.logging import get_logger
from payrelay.models import Merchant
from payrelay.payment import results as payment_results
from payrelay.payment import service as payment_service
from payrelay.payment.metrics import record_status_change
from payrelay.payment.presenter import payment_body
from payrelay.payment.results import Applied
from payrelay.payment.schemas import CreatePaymentIn
from payrelay.payment.service import CreateOptions, GatewayTarget

log = get_logger(__name__)

CREATE_SCOPE = "payments.create"
FIRST_CHECK_DELAY = timedelta(minutes=5)


class GatewayDeclined(PayrelayError):
    status_code = 402
    code = "gateway_declined"


@dataclass(frozen=True, slots=True)
class ApiResult:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Unresolved:
    status: OperationStatus  # pending: nothing was sent; unknown: sent, answer lost
    message: str
    attempted: bool = True  # False when the gateway was deliberately not called


GatewayCall = Callable[[Connector], Awaitable[PaymentResult | OperationResult]]


class PaymentOrchestrator:
    def __init__(self, db: Database, http: httpx.AsyncClient, settings: Settings) -> None:
        self.db = db
        self.http = http
        self.settings = settings
        self.create_options = CreateOptions(
            allow_private_callbacks=settings.allow_private_callbacks,
            duplicate_charge_window=settings.duplicate_charge_window,
            default_expires_in=settings.default_expires_in,
        )

    async def create(self, merchant: Merchant, body: CreatePaymentIn, key: str) -> ApiResult:
        fingerprint = _fingerprint(CREATE_SCOPE, body, exclude={"idempotency_key"})
        async with self.db.transaction() as session:
            claimed = await idempotency_service.claim(
                session,
                merchant_id=merchant.id,
                key=key,
                method="POST",
                path=CREATE_SCOPE,
                request_fingerprint=fingerprint,
                lease=self.settings.idempotency_lock_timeout,
                retention=None,  # create keys live as long as the payment
            )
            if isinstance(claimed, idempotency_service.Replay):
                return ApiResult(claimed.status_code, claimed.body, replayed=True)
            if claimed.resumed and claimed.key.operation_id is not None:
                target = await payment_service.load_target(session, claimed.key.operation_id)
            else:
                target = await payment_service.create_draft(
                    session,
                    merchant,
                    body,
                    idempotency_key=key,
                    fingerprint=fingerprint,
                    options=self.create_options,
                    now=_now(),
                )
                await idempotency_service.record_progress(
                    session,
                    claimed.key.id,
                    payment_request_id=target.row.request.id,
                    operation_id=target.operation.id,
                )
        if not claimed.resumed:
            record_status_change(target.code, PaymentStatus.PENDING)
        return await self._drive(target, claimed.key.id, self._create_call(target))

    async def operate(
        self,
        merchant: Merchant,
        payment_id: uuid.UUID,
        kind: OperationKind,
        body: BaseModel,
        key: str | None,
        actor: str = "merchant",
    ) -> ApiResult:
        scope = f"payments.{kind.value}:{payment_id}"
        key_id: uuid.UUID | None = None
        async with self.db.transaction() as session:
            target: GatewayTarget | None = None
            if key is not None:
                claimed = await idempotency_service.claim(
                    session,
                    merchant_id=merchant.id,
                    key=key,
                    method="POST",
                    path=scope,
                    request_fingerprint=_fingerprint(scope, body),
                    lease=self.settings.idempotency_lock_timeout,
                    retention=idempotency_service.OPERATION_KEY_RETENTION,
                )
                if isinstance(claimed, idempotency_service.Replay):
                    return ApiResult(claimed.status_code, claimed.body, replayed=True)
                key_id = claimed.key.id
                if claimed.resumed and claimed.key.operation_id is not None:
                    target = await payment_service.load_target(session, claimed.key.operation_id)
            external = bool(getattr(body, "external", False))
            if target is None:
                target = await payment_service.plan_operation(
                    session,
                    merchant,
                    payment_id,
                    kind,
                    amount=getattr(body, "amount", None),
                    reason=getattr(body, "reason", None),
                    actor=actor,
                    now=_now(),
                    external=external,
                )
                if external:  # done outside payrelay: recorded, nothing is sent
                    return await self._record_external(session, target, key_id)
                if key_id is not None:
                    await idempotency_service.record_progress(
                        session,
                        key_id,
                        payment_request_id=target.row.request.id,
                        operation_id=target.operation.id,
                    )
            capture_key = await payment_service.capture_key(session, target)
        return await self._drive(target, key_id, self._operation_call(target, capture_key))

    async def _record_external(
        self, session: AsyncSession, target: GatewayTarget, key_id: uuid.UUID | None
    ) -> ApiResult:
        done = OperationResult(
            outcome=OperationOutcome.SUCCEEDED,
            gateway_status="EXTERNAL",
            raw={"external": True},
        )
        applied = await payment_results.apply_operation_result(
            session, target.operation.id, done, now=_now()
        )
        result = ApiResult(200, payment_body(applied.row))
        if key_id is not None:
            await idempotency_service.complete(session, key_id, result.status_code, result.body)
        if applied.change is not None:
            record_status_change(target.code, applied.change.after)
        return result

    async def _drive(
        self, target: GatewayTarget, key_id: uuid.UUID | None, call: GatewayCall
    ) -> ApiResult:
        operation = target.operation
        outcome: PaymentResult | OperationResult | Unresolved | None = None
        if operation.status in (OperationStatus.PENDING.value, OperationStatus.UNKNOWN.value):
            outcome = await self._call(target, call)
        async with self.db.transaction() as session:
            now = _now()
            if isinstance(outcome, Unresolved):
                await payment_results.mark_unresolved(
                    session,
                    operation.id,
                    outcome.status,
                    outcome.message,
                    attempted=outcome.attempted,
                    next_check_at=now + FIRST_CHECK_DELAY,
                    now=now,
                )
                if key_id is not None:
                    await idempotency_service.release(session, key_id)
                applied = None
            elif isinstance(outcome, PaymentResult):
                applied = await payment_results.apply_create_result(
                    session, operation.id, outcome, now=now
                )
            elif isinstance(outcome, OperationResult):
                applied = await payment_results.apply_operation_result(
                    session, operation.id, outcome, now=now
                )
            else:  # resolved meanwhile by a webhook or the janitor: answer from the ledger
                reloaded = await payment_service.load_target(session, operation.id)
                applied = Applied(row=reloaded.row, change=None)
            if applied is not None:
                result = self._result(operation.kind, outcome, applied)
                if key_id is not None:
                    await idempotency_service.complete(
                        session, key_id, result.status_code, result.body
                    )
                if operation.kind == OperationKind.CREATE.value:
                    applied.row.request.response_data = result.body
        if isinstance(outcome, Unresolved):
            raise _unresolved_error(outcome, target)
        assert applied is not None
        if applied.change is not None:
            record_status_change(target.code, applied.change.after)
        return result

    def _result(self, kind: str, outcome: object, applied: Applied) -> ApiResult:
        body = payment_body(applied.row)
        if kind == OperationKind.CREATE.value:
            return ApiResult(201, body)
        if isinstance(outcome, OperationResult) and outcome.outcome is OperationOutcome.DECLINED:
            decline = outcome.decline
            error = GatewayDeclined(
                f"the gateway declined the {kind}" + (f": {decline.message}" if decline else ""),
                details={
                    "decline_code": decline.code if decline else None,
                    "payment": body,
                },
            )
            return ApiResult(error.status_code, error.to_body())
        if isinstance(outcome, OperationResult) and outcome.outcome is OperationOutcome.PENDING:
            return ApiResult(202, body)
        return ApiResult(200, body)

    async def _call(self, target: GatewayTarget, call: GatewayCall) -> Any:
        operation = target.operation
        window = connectors.connector_class(target.code).capabilities.idempotency_window
        if (
            operation.status == OperationStatus.UNKNOWN.value
            and _now() - operation.created_at > window
        ):
            # Past the gateway's key window a resend could charge twice: leave it to the janitor.
            return Unresolved(
                OperationStatus.UNKNOWN, "outcome unknown; awaiting status query", attempted=False
            )
        connector = connectors.build_connector(
            target.code,
            account_context(target.account, self.settings.resolved_public_url()),
            self.http,
        )
        bound = log.bind(
            payment_id=str(target.row.request.id),
            operation_id=str(operation.id),
            gateway=target.code,
        )
        try:
            result = await call(connector)
            if not isinstance(result, PaymentResult | OperationResult):
                raise TypeError(f"connector returned {type(result).__name__}")
            return result
        except GatewayNotSent as exc:
            bound.warning("gateway.not_sent", error=str(exc))
            return Unresolved(OperationStatus.PENDING, f"not sent: {exc}")
        except GatewayOutcomeUnknown as exc:
            bound.warning("gateway.outcome_unknown", error=str(exc))
            return Unresolved(OperationStatus.UNKNOWN, f"outcome unknown: {exc}")
        except Exception as exc:  # a connector bug after sending: the outcome is unknown
            bound.exception("gateway.connector_error")
            return Unresolved(OperationStatus.UNKNOWN, f"connector error: {type(exc).__name__}")

    def _create_call(self, target: GatewayTarget) -> GatewayCall:
        transaction, request = target.row.transaction, target.row.request
        operation = target.operation
        canonical = CreatePayment(
            payment_id=request.id,
            operation_id=operation.id,
            idempotency_key=operation.gateway_idempotency_key,
            amount=transaction.amount,
            currency=transaction.currency,
            capture_method=CaptureMethod(transaction.capture_method),
            order_reference=transaction.order_reference,
            order_id=request.order_id,
            description=transaction.description,
            customer_email=transaction.customer_email,
            return_url=request.return_url,
            expires_at=request.expires_at,
        )
        return lambda connector: connector.create_payment(canonical)

    def _operation_call(self, target: GatewayTarget, capture_key: str | None) -> GatewayCall:
        operation, transaction = target.operation, target.row.transaction
        canonical = OperationRequest(
            operation_id=operation.id,
            idempotency_key=operation.gateway_idempotency_key,
            gateway_transaction_id=transaction.gateway_transaction_id or "",
            amount=operation.amount,
            currency=transaction.currency,
            reason=operation.reason,
            capture_key=capture_key,
        )
        name = OperationKind(operation.kind).value  # capture | void | refund
        return lambda connector: getattr(connector, name)(canonical)


def _fingerprint(scope: str, body: BaseModel, exclude: set[str] | None = None) -> str:
    return idempotency_service.fingerprint(
        "POST", scope, body.model_dump(mode="json", exclude=exclude)
    )


def _unresolved_error(outcome: Unresolved, target: GatewayTarget) -> PayrelayError:
    details = {
        "payment_id": str(target.row.request.id),
        "operation_id": str(target.operation.id),
        "retry": "safe with the same Idempotency-Key",
    }
    if outcome.status is OperationStatus.PENDING:
        return GatewayUnavailable(
            "the gateway could not be reached; nothing was sent", details=details
        )
    return OutcomeUnknownError(
        "the gateway's answer was lost; the outcome will be confirmed with the gateway",
        details=details,
    )


def _now() -> datetime:
    return datetime.now(UTC)
