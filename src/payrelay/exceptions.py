"""One error tree. Every error the API returns is a `PayrelayError` with a status and a stable code.

PayrelayError
├── BadRequest (400)            malformed JSON, missing or malformed idempotency key
├── Unauthorized (401)
├── NotFound (404)
├── Conflict (409)              illegal transition, key in use, active payment, duplicate charge
├── PayloadTooLarge (413)
├── UnprocessableEntity (422)   valid JSON that breaks a rule: precision, currency, amounts
├── ServiceUnavailable (503)
└── GatewayError (502/504)      the gateway failed or its answer is unknown
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class PayrelayError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, details: Any = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(PayrelayError):
    status_code = 400
    code = "bad_request"


class MalformedJson(BadRequest):
    code = "malformed_json"


class Unauthorized(PayrelayError):
    status_code = 401
    code = "unauthorized"


class NotFound(PayrelayError):
    status_code = 404
    code = "not_found"


class MethodNotAllowed(PayrelayError):
    status_code = 405
    code = "method_not_allowed"


class Conflict(PayrelayError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(PayrelayError):
    status_code = 413
    code = "payload_too_large"


class UnprocessableEntity(PayrelayError):
    status_code = 422
    code = "unprocessable_entity"


class ValidationFailed(UnprocessableEntity):
    code = "validation_error"


class GatewayError(PayrelayError):
    status_code = 502
    code = "gateway_error"


class GatewayUnavailable(GatewayError):
    """Nothing reached the gateway: safe to retry with the same idempotency key."""

    status_code = 502
    code = "gateway_unavailable"


class GatewayOutcomeUnknown(GatewayError):
    """The request was sent but its outcome is unknown; a retry resumes, never re-charges."""

    status_code = 504
    code = "gateway_outcome_unknown"


class ErrorModel(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(title="Error")

    error: ErrorModel


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the shared error body."""
    return {status: {"model": ErrorBody, "description": "Error"} for status in statuses}
