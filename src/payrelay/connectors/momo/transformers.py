"""Pure mapping between canonical types and MoMo AIO v2 JSON (spec A3–A8). No I/O."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from payrelay.connectors.base import (
    ConfigInvalid,
    CreatePayment,
    Decline,
    GatewayEvent,
    NextAction,
    OperationOutcome,
    OperationRequest,
    OperationResult,
    PaymentOutcome,
    PaymentResult,
)
from payrelay.connectors.momo import signatures
from payrelay.connectors.momo.codes import Kind, lookup
from payrelay.enums import CaptureMethod

TEST_HOST = "https://test-payment.momo.vn"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Whole VND per request type (spec A3). payWithMethod lets the user pick the method on MoMo's
# page; it gets the wallet's range, and MoMo refuses (22) what the chosen method cannot take.
AMOUNT_LIMITS: dict[str, tuple[Decimal, Decimal]] = {
    "captureWallet": (Decimal(1_000), Decimal(50_000_000)),
    "payWithMethod": (Decimal(1_000), Decimal(50_000_000)),
}
PAYMENT_METHODS = {"captureWallet": "momo_wallet", "payWithMethod": "momo"}
LANGUAGES = frozenset({"vi", "en"})
REQUIRED_KEYS = ("partner_code", "access_key", "secret_key")
DEFAULTS = {"request_type": "captureWallet", "lang": "vi"}
CONFIG_KEYS = frozenset(REQUIRED_KEYS) | frozenset(DEFAULTS)

ORDER_ID = re.compile(r"^[0-9a-zA-Z]([-_.]*[0-9a-zA-Z]+)*$")
MAX_ORDER_ID = 200
MAX_ORDER_INFO = 255
MAX_DESCRIPTION = 255
# `&`, `=` and `#` break signature checks on the redirect (momo-wallet/php#3).
_UNSAFE_TEXT = re.compile(r"[&=#\x00-\x1f\x7f]+")


class MalformedResponse(ValueError):
    """MoMo answered something we cannot read: the outcome is unknown."""


class OutcomeAmbiguous(Exception):
    """MoMo says the request is in flight or was answered before (7000, 40): ask again."""

    def __init__(self, code: int, body: Mapping[str, Any]) -> None:
        super().__init__(f"MoMo resultCode {code}")
        self.code = code
        self.body = body


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MomoConfig:
    partner_code: str
    access_key: str
    secret_key: str
    request_type: str = DEFAULTS["request_type"]
    lang: str = DEFAULTS["lang"]

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> MomoConfig:
        unknown = set(config) - CONFIG_KEYS
        if unknown:
            raise ConfigInvalid(f"unknown momo config keys: {', '.join(sorted(unknown))}")
        values: dict[str, str] = {}
        for key in (*REQUIRED_KEYS, *DEFAULTS):
            value = config.get(key, DEFAULTS.get(key))
            if not isinstance(value, str) or not value.strip() or value != value.strip():
                raise ConfigInvalid(f"momo {key} must be a non-empty string without spaces")
            values[key] = value
        if values["request_type"] not in AMOUNT_LIMITS:
            raise ConfigInvalid(f"momo request_type must be one of {', '.join(AMOUNT_LIMITS)}")
        if values["lang"] not in LANGUAGES:
            raise ConfigInvalid("momo lang must be vi or en")
        if len(values["partner_code"]) > 50:
            raise ConfigInvalid("momo partner_code has at most 50 characters")
        return cls(**values)

    def as_dict(self) -> dict[str, str]:
        return {
            "partner_code": self.partner_code,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "request_type": self.request_type,
            "lang": self.lang,
        }


# --- values --------------------------------------------------------------------------------


def order_id_for(reference: str) -> str:
    """Our order reference in MoMo's orderId alphabet (`[0-9a-zA-Z]` joined by `-_.`)."""
    cleaned = re.sub(r"[^0-9A-Za-z_.-]", "-", reference)[:MAX_ORDER_ID].strip("-_.")
    if not ORDER_ID.match(cleaned):
        raise ValueError(f"no MoMo orderId can be made from {reference!r}")
    return cleaned


def plain_text(text: str | None, limit: int) -> str:
    """Free text MoMo signs and echoes: no `&`, `=`, `#` or control characters."""
    return " ".join(_UNSAFE_TEXT.sub(" ", text or "").split())[:limit].strip()


def order_info(request: CreatePayment) -> str:
    return plain_text(request.description, MAX_ORDER_INFO) or plain_text(
        f"Payment for order {request.order_id}", MAX_ORDER_INFO
    )


def vnd(amount: Decimal) -> int:
    """Whole VND, as MoMo wants it; refuses fractions instead of rounding them away."""
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise ValueError(f"MoMo amounts are whole VND, not {amount}")
    return int(amount)


def extra_data(payment_id: uuid.UUID, capture_method: CaptureMethod) -> str:
    """Base64 JSON that MoMo echoes in every IPN and query: how we match them to a payment."""
    document = {"payrelay_payment_id": str(payment_id), "capture_method": capture_method.value}
    return base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()


@dataclass(frozen=True, slots=True)
class Echo:
    payment_id: uuid.UUID | None
    manual: bool | None  # None: not ours, or not said


def read_extra_data(value: Any) -> Echo:
    """What we put in `extraData`; nothing for a value that is not ours."""
    if not isinstance(value, str) or not value:
        return Echo(None, None)
    try:
        document = json.loads(base64.b64decode(value, validate=True))
        payment_id = uuid.UUID(str(document["payrelay_payment_id"]))
    except (binascii.Error, ValueError, KeyError, TypeError):
        return Echo(None, None)
    method = document.get("capture_method")
    manual = None if method is None else method == CaptureMethod.MANUAL.value
    return Echo(payment_id, manual)


def loads(content: bytes) -> dict[str, Any]:
    """A MoMo JSON object; numbers stay exact (no floats)."""
    try:
        body = json.loads(content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse("MoMo answered with a body that is not JSON") from exc
    if not isinstance(body, dict):
        raise MalformedResponse("MoMo answered with JSON that is not an object")
    return body


def plain(value: Any) -> Any:
    """A parsed body as JSON-storable data (exact numbers as integers, or text)."""
    if isinstance(value, Decimal):
        integral = value.is_finite() and value == value.to_integral_value()
        return int(value) if integral else str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def dumps(body: Mapping[str, Any]) -> bytes:
    """UTF-8 JSON: Vietnamese text travels as itself, exactly as it was signed."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- requests ------------------------------------------------------------------------------


def create_body(request: CreatePayment, config: MomoConfig, ipn_url: str) -> dict[str, Any]:
    body = {
        "partnerCode": config.partner_code,
        "requestId": request.idempotency_key,
        "amount": vnd(request.amount),
        "orderId": order_id_for(request.order_reference),
        "orderInfo": order_info(request),
        # MoMo accepts "" and then shows its own result page: payrelay has no page for customers.
        "redirectUrl": request.return_url or "",
        "ipnUrl": ipn_url,
        "requestType": config.request_type,
        "extraData": extra_data(request.payment_id, request.capture_method),
        "autoCapture": request.capture_method is CaptureMethod.AUTOMATIC,
        "lang": config.lang,
    }
    return signatures.signed(config.secret_key, config.access_key, signatures.CREATE, body)


def query_body(config: MomoConfig, order_id: str, request_id: str) -> dict[str, Any]:
    body = {
        "partnerCode": config.partner_code,
        "requestId": request_id,
        "orderId": order_id,
        "lang": config.lang,
    }
    return signatures.signed(config.secret_key, config.access_key, signatures.QUERY, body)


def confirm_body(
    config: MomoConfig, request: OperationRequest, request_type: str, amount: Decimal
) -> dict[str, Any]:
    body = {
        "partnerCode": config.partner_code,
        "requestId": request.idempotency_key,
        "orderId": request.gateway_transaction_id,
        "requestType": request_type,
        "amount": vnd(amount),
        "lang": config.lang,
        "description": plain_text(request.reason, MAX_DESCRIPTION),
    }
    return signatures.signed(config.secret_key, config.access_key, signatures.CONFIRM, body)


def refund_body(
    config: MomoConfig, request: OperationRequest, amount: Decimal, trans_id: int
) -> dict[str, Any]:
    # A refund needs an orderId of its own: our idempotency key (`payrelay-<uuid>`) fits MoMo's
    # alphabet and comes back in the query's `refundTrans`, so a lost answer can be looked up.
    body = {
        "partnerCode": config.partner_code,
        "orderId": request.idempotency_key,
        "requestId": request.idempotency_key,
        "amount": vnd(amount),
        "transId": trans_id,
        "lang": config.lang,
        "description": plain_text(request.reason, MAX_DESCRIPTION),
    }
    return signatures.signed(config.secret_key, config.access_key, signatures.REFUND, body)


# --- answers -------------------------------------------------------------------------------


def result_code(body: Mapping[str, Any]) -> int:
    value = body.get("resultCode")
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise MalformedResponse(f"MoMo answered without a resultCode: {value!r}")
    try:
        code = Decimal(str(value))
    except ArithmeticError as exc:
        raise MalformedResponse(f"MoMo resultCode is not a number: {value!r}") from exc
    if not code.is_finite() or code != code.to_integral_value():
        raise MalformedResponse(f"MoMo resultCode is not an integer: {value!r}")
    return int(code)


def decline_for(code: int, message: Any = None) -> Decline:
    entry = lookup(code)
    reason = entry.reason if entry is not None and entry.reason else f"momo_{code}"
    text = message if isinstance(message, str) and message else None
    return Decline(
        code=reason,
        message=text or (entry.description if entry else f"MoMo resultCode {code}"),
        gateway_code=str(code),
    )


def payment_outcome(code: int, manual: bool | None) -> PaymentOutcome:
    """A transaction state (IPN, query) as our outcome. Anything we cannot be sure of is
    pending: money never moves on a guess."""
    entry = lookup(code)
    kind = entry.kind if entry is not None else None
    if kind is Kind.SUCCESS:
        return PaymentOutcome.CAPTURED
    if kind is Kind.AUTHORIZED:
        # 9000 is a hold in the two-step flow and counts as paid in the one-step flow.
        return PaymentOutcome.CAPTURED if manual is False else PaymentOutcome.AUTHORIZED
    if kind is Kind.FAILED:
        return PaymentOutcome.DECLINED
    if kind is Kind.EXPIRED:
        return PaymentOutcome.EXPIRED
    if kind is Kind.CANCELLED:
        return PaymentOutcome.VOIDED
    return PaymentOutcome.PENDING


def create_result(status_code: int, body: Mapping[str, Any]) -> PaymentResult:
    """The answer to create: a pay URL, or a refusal (nothing will be charged)."""
    code = result_code(body)
    entry = lookup(code)
    if code == 0:
        pay_url = body.get("payUrl")
        order_id = body.get("orderId")
        if not isinstance(pay_url, str) or not pay_url or not isinstance(order_id, str):
            raise MalformedResponse("MoMo accepted the order without a payUrl or orderId")
        return PaymentResult(
            outcome=PaymentOutcome.PENDING,
            gateway_status=str(code),
            gateway_transaction_id=order_id,
            next_action=NextAction("redirect", {"url": pay_url}),
            amount=_amount(body.get("amount")),
            raw=plain(body),
        )
    if entry is None or entry.kind in (Kind.PENDING, Kind.AUTHORIZED) or code in (40, 43):
        raise OutcomeAmbiguous(code, body)  # in flight, or answered before: the query tells
    return PaymentResult(
        outcome=PaymentOutcome.DECLINED,
        gateway_status=str(code),
        decline=decline_for(code, body.get("message")),
        raw={**plain(body), "httpStatus": status_code},
    )


def operation_result(body: Mapping[str, Any]) -> OperationResult:
    """The answer to confirm (capture, cancel) or refund."""
    code = result_code(body)
    entry = lookup(code)
    if code == 0:
        trans_id = body.get("transId")
        return OperationResult(
            outcome=OperationOutcome.SUCCEEDED,
            gateway_status=str(code),
            gateway_operation_id=None if trans_id is None else str(trans_id),
            raw=plain(body),
        )
    if code in (7000, 40) or entry is None:
        raise OutcomeAmbiguous(code, body)
    if entry.kind is Kind.PENDING:
        return OperationResult(
            outcome=OperationOutcome.PENDING, gateway_status=str(code), raw=plain(body)
        )
    return OperationResult(
        outcome=OperationOutcome.DECLINED,
        gateway_status=str(code),
        decline=decline_for(code, body.get("message")),
        raw=plain(body),
    )


def declined_operation(code: str, message: str, raw: Mapping[str, Any]) -> OperationResult:
    """A refusal decided here, before anything is sent."""
    return OperationResult(
        outcome=OperationOutcome.DECLINED,
        gateway_status=code.upper()[:50],
        decline=Decline(code=code, message=message),
        raw=dict(raw),
    )


def status_result(body: Mapping[str, Any]) -> PaymentResult:
    """A query answer: the transaction's state, its refunds, and what became of ours."""
    code = result_code(body)
    entry = lookup(code)
    if code == 42:  # MoMo has no such order: our create never arrived
        return PaymentResult(
            outcome=PaymentOutcome.DECLINED,
            gateway_status=str(code),
            decline=decline_for(code, body.get("message")),
            found=False,
            raw=plain(body),
        )
    if entry is not None and entry.kind is Kind.ERROR:
        raise MalformedResponse(f"MoMo refused the status query: resultCode {code}")
    echo = read_extra_data(body.get("extraData"))
    outcome = payment_outcome(code, echo.manual)
    amount = _amount(body.get("amount"))
    refunds = _refunds(body.get("refundTrans"))
    trans_id = body.get("transId")
    order_id = body.get("orderId")
    return PaymentResult(
        outcome=outcome,
        gateway_status=str(code),
        gateway_transaction_id=order_id if isinstance(order_id, str) else None,
        gateway_reference_id=str(trans_id) if trans_id not in (None, 0, "0", "") else None,
        amount=amount,
        captured_amount=amount if outcome is PaymentOutcome.CAPTURED else None,
        refunded_amount=sum(
            (refund.amount for refund in refunds if refund.code == 0), start=Decimal(0)
        ),
        decline=decline_for(code, body.get("message"))
        if outcome is PaymentOutcome.DECLINED
        else None,
        operations={
            refund.order_id: OperationOutcome.SUCCEEDED
            if refund.code == 0
            else OperationOutcome.DECLINED
            for refund in refunds
            if refund.final
        },
        raw=plain(body),
    )


@dataclass(frozen=True, slots=True)
class Refund:
    order_id: str
    amount: Decimal
    code: int
    trans_id: str | None

    @property
    def final(self) -> bool:
        entry = lookup(self.code)
        return entry is not None and entry.final


def _refunds(value: Any) -> list[Refund]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResponse("MoMo refundTrans is not a list")
    refunds = []
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("orderId"), str):
            raise MalformedResponse(f"MoMo refundTrans entry without orderId: {item!r}")
        amount = _amount(item.get("amount"))
        if amount is None:
            raise MalformedResponse(f"MoMo refundTrans entry without amount: {item!r}")
        trans_id = item.get("transId")
        refunds.append(
            Refund(
                order_id=item["orderId"],
                amount=amount,
                code=result_code(item),
                trans_id=None if trans_id is None else str(trans_id),
            )
        )
    return refunds


def find_refund(body: Mapping[str, Any], order_id: str) -> Refund | None:
    return next((r for r in _refunds(body.get("refundTrans")) if r.order_id == order_id), None)


def trans_id_of(body: Mapping[str, Any]) -> int | None:
    """The purchase's transId from a query answer; None while nothing was paid."""
    value = body.get("transId")
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        return None
    try:
        trans_id = int(Decimal(str(value)))
    except ArithmeticError:
        return None
    return trans_id if trans_id > 0 else None


# --- notifications -------------------------------------------------------------------------


def ipn_event(body: Mapping[str, Any]) -> GatewayEvent:
    """One IPN as a canonical event. Deterministic: the same body gives the same event."""
    code = result_code(body)
    request_id, order_id = body.get("requestId"), body.get("orderId")
    if not isinstance(request_id, str) or not isinstance(order_id, str):
        raise MalformedResponse("IPN without requestId or orderId")
    trans_id = signatures.signed_text(body.get("transId", ""))
    response_time = body.get("responseTime")
    if isinstance(response_time, bool) or not isinstance(response_time, int):
        raise MalformedResponse("IPN responseTime is not epoch milliseconds")
    echo = read_extra_data(body.get("extraData"))
    outcome = payment_outcome(code, echo.manual)
    return GatewayEvent(
        # MoMo may notify again; one IPN is (requestId, transId, resultCode).
        event_id=f"{request_id}:{trans_id}:{code}",
        event_type=f"ipn.{code}",
        outcome=outcome,
        gateway_status=str(code),
        occurred_at=EPOCH + timedelta(milliseconds=response_time),
        payment_id=echo.payment_id,
        gateway_transaction_id=order_id,
        amount=_amount(body.get("amount")),
        decline=decline_for(code, body.get("message"))
        if outcome is PaymentOutcome.DECLINED
        else None,
        raw=plain(body),
    )


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, int | str | Decimal):
        raise MalformedResponse(f"MoMo amount is not a number: {value!r}")
    try:
        amount = Decimal(str(value))
    except ArithmeticError as exc:
        raise MalformedResponse(f"MoMo amount is not a number: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise MalformedResponse(f"MoMo amount out of range: {value!r}")
    return amount
