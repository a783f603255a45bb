"""The MoMo emulator's memory and rules (spec PART A, checklist PART C), without HTTP.

Every API call is checked like MoMo checks it — fields, partner, signature, the requestId rules
of A9, amount limits, orderId rules — and answered with MoMo's result codes and error shapes.
Facts the spec marks unconfirmed (PART D) are `Options`, defaulting to what the spec documents.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from payrelay.connectors.momo import signatures
from payrelay.connectors.momo.codes import Kind, lookup
from payrelay.connectors.momo.transformers import ORDER_ID
from payrelay.kit.crypto import hmac_sha256_hex

# Whole VND per request type (spec A3); None: no bound published.
REQUEST_TYPES: dict[str, tuple[int, int | None]] = {
    "captureWallet": (1_000, 50_000_000),
    "payWithMethod": (1_000, 50_000_000),
    "payWithATM": (10_000, 50_000_000),
    "payWithCC": (1_000, 10_000_000),
    "linkWallet": (0, 20_000_000),
    "payWithVTS": (1_000, 50_000_000),
    "payWithInstallmentFlik": (200_000, None),
}
REFUND_LIMITS = (1_000, 50_000_000)
FIRST_TRANS_ID = 4_088_878_653
SUCCESS_MESSAGE = {"vi": "Thành công.", "en": "Successful."}
BAD_SIGNATURE = "Chữ ký không hợp lệ. Vui lòng kiểm tra chuỗi dữ liệu gốc: "


@dataclass(frozen=True, slots=True)
class Options:
    """`--option KEY=VALUE` settings; [?] marks what MoMo does not publish (spec PART D)."""

    partner_code: str = "MOMO"  # MoMo's public sandbox credentials (spec A1)
    access_key: str = "F8BBA842ECF85"
    secret_key: str = "K951B6PE1waDMi640xX08PD3vg6EkVlz"  # noqa: S105 (published by MoMo)
    error_http_status: int = 400  # [?] refusals other than 20 (always 400) and 7000 (422)
    ipn_retries: int = 0  # [?] retry policy unpublished
    ipn_retry_seconds: float = 1.0
    ipn_timeout_seconds: float = 15.0  # MoMo wants the answer within 15 s
    ipn_accept: str = "204"  # "204": only 204 No Content counts as received; "2xx": any 2xx
    ipn_on_confirm: bool = False  # [?] whether a capture or cancel is notified too
    pay_url_ttl_seconds: float = 300.0  # [?] 5 min by the older MoMo guide
    order_expire_time_unit: str = "minutes"  # [?] orderExpireTime: "minutes" or "epoch_ms"
    authorization_ttl_seconds: float = 0.0  # [?] after it a 9000 hold becomes 1003; 0: never
    sign_responses: bool = False  # [?] a signature on create answers
    pay_type: str = "qr"  # [?] payType of a paid order
    hang_seconds: float = 30.0  # longest a `hang` fault keeps an answer back

    @classmethod
    def parse(cls, given: Mapping[str, str]) -> Options:
        known = {item.name: item for item in fields(cls)}
        unknown = set(given) - set(known)
        if unknown:
            raise ValueError(f"unknown momo emulator options: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, text in given.items():
            kind = type(getattr(cls(), name))
            try:
                if kind is bool:
                    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(text)
                    values[name] = text.lower() in ("true", "1", "yes")
                else:
                    values[name] = kind(text)
            except ValueError:
                raise ValueError(f"momo emulator option {name}: bad value {text!r}") from None
        options = cls(**values)
        if options.ipn_accept not in ("204", "2xx"):
            raise ValueError("momo emulator option ipn_accept: 204 or 2xx")
        if options.order_expire_time_unit not in ("minutes", "epoch_ms"):
            raise ValueError("momo emulator option order_expire_time_unit: minutes or epoch_ms")
        return options


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


class Refusal(Exception):
    """MoMo refuses the request with `code` (nothing changes)."""

    def __init__(self, code: int, message: str | None = None, sub_errors: Any = None) -> None:
        entry = lookup(code)
        super().__init__(message or (entry.description if entry else str(code)))
        self.code = code
        self.message = str(self)
        self.sub_errors = sub_errors


class ControlError(Exception):
    """A bad control request (the emulator's own API, not MoMo's)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Order:
    order_id: str
    request_id: str
    amount: int
    order_info: str
    request_type: str
    ipn_url: str
    redirect_url: str
    extra_data: str
    lang: str
    auto_capture: bool
    token: str
    pay_url: str
    expires_at: float
    result_code: int = 1000
    trans_id: int = 0
    pay_type: str = ""
    authorized_at: float | None = None
    refunds: list[dict[str, Any]] = field(default_factory=list)
    ipns: list[dict[str, Any]] = field(default_factory=list)

    @property
    def refunded(self) -> int:
        return sum(int(refund["amount"]) for refund in self.refunds if refund["resultCode"] == 0)

    def view(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id,
            "requestId": self.request_id,
            "amount": self.amount,
            "requestType": self.request_type,
            "autoCapture": self.auto_capture,
            "resultCode": self.result_code,
            "transId": self.trans_id,
            "payType": self.pay_type,
            "payUrl": self.pay_url,
            "ipnUrl": self.ipn_url,
            "redirectUrl": self.redirect_url,
            "extraData": self.extra_data,
            "refundTrans": list(self.refunds),
            "ipns": list(self.ipns),
        }


@dataclass
class Stored:
    """What MoMo remembers of one requestId (A9)."""

    answer: Answer | None = None  # None while in flight
    final: bool = False


class MomoState:
    def __init__(self, options: Options, clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.clock = clock
        self.orders: dict[str, Order] = {}
        self.order_ids: set[str] = set()  # purchases and refunds share one namespace
        self.by_trans_id: dict[int, Order] = {}
        self.by_token: dict[str, Order] = {}
        self.requests: dict[str, Stored] = {}
        self.calls: list[dict[str, Any]] = []
        self.faults: dict[str, list[str]] = {}
        self._next_trans_id = FIRST_TRANS_ID

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # --- the requestId rules (A9) ------------------------------------------------------------

    def begin(self, request_id: str) -> Answer | None:
        """None: go ahead (now in flight); otherwise the answer for a repeated requestId."""
        stored = self.requests.get(request_id)
        if stored is None:
            self.requests[request_id] = Stored()
            return None
        if stored.answer is None:
            return self.refusal(Refusal(7000, "The request is being processed."), http=422)
        if stored.final:
            return stored.answer
        return self.refusal(Refusal(40))

    def finish(self, request_id: str, answer: Answer) -> None:
        entry = lookup(int(answer.body.get("resultCode", 99)))
        self.requests[request_id] = Stored(answer, final=entry is not None and entry.final)

    def refusal(self, refusal: Refusal, http: int | None = None, **echo: Any) -> Answer:
        if refusal.code == 20:  # the shape seen in the sandbox (momo-wallet/payment#39)
            echo = {}
        body: dict[str, Any] = {
            **echo,
            "responseTime": self.now_ms(),
            "message": refusal.message,
            "resultCode": refusal.code,
        }
        if refusal.sub_errors is not None:
            body["subErrors"] = refusal.sub_errors
        if http is None:
            entry = lookup(refusal.code)
            if refusal.code == 20:
                http = 400
            elif entry is not None and entry.kind is Kind.ERROR:
                http = self.options.error_http_status
            else:
                http = 200  # a processed request with a business result
        return Answer(http, body)

    # --- checks shared by every operation ----------------------------------------------------

    def authenticate(self, body: Mapping[str, Any], signed: tuple[str, ...]) -> None:
        """Field presence, the partner, then the signature over exactly what was sent."""
        missing = [
            {"field": name, "message": "Trường dữ liệu bắt buộc."}
            for name in (*signed[1:], "signature")
            if name not in body and name != "description"
        ]
        if missing:
            raise Refusal(20, sub_errors=missing)
        if body["partnerCode"] != self.options.partner_code:
            raise Refusal(13)
        values = {"description": "", **body, "accessKey": self.options.access_key}
        try:
            raw = signatures.raw_signature(signed, values)
        except signatures.UnsignableValue as exc:
            raise Refusal(20, sub_errors=[{"field": "body", "message": str(exc)}]) from None
        if not signatures.is_valid(
            self.options.secret_key, self.options.access_key, signed, values
        ):
            masked = raw.replace(f"accessKey={self.options.access_key}", "accessKey=******", 1)
            raise Refusal(
                20, sub_errors=[{"field": "signature", "message": BAD_SIGNATURE + masked}]
            )

    def order(self, order_id: Any) -> Order:
        order = self.orders.get(order_id) if isinstance(order_id, str) else None
        if order is None:
            raise Refusal(42)
        self._age(order)
        return order

    def _age(self, order: Order) -> None:
        """Time passes lazily: an unpaid order expires (1005), a hold may be released (1003)."""
        now = self.clock()
        if order.result_code in (1000, 8000) and now > order.expires_at:
            order.result_code = 1005
        ttl = self.options.authorization_ttl_seconds
        held_since = order.authorized_at
        if order.result_code == 9000 and ttl > 0 and held_since and now > held_since + ttl:
            order.result_code = 1003

    def _trans_id(self) -> int:
        self._next_trans_id += 1
        return self._next_trans_id

    # --- create (A3) -------------------------------------------------------------------------

    def create(self, body: Mapping[str, Any], base_url: str) -> Answer:
        request_type = _text(body, "requestType")
        if request_type not in REQUEST_TYPES:
            raise Refusal(20, sub_errors=[{"field": "requestType", "message": "Không hỗ trợ."}])
        amount = _amount(body["amount"])
        low, high = REQUEST_TYPES[request_type]
        if amount < low or (high is not None and amount > high):
            raise Refusal(22)
        order_id = _text(body, "orderId", 200)
        if not ORDER_ID.match(order_id):
            raise bad_format("orderId")
        _text(body, "requestId", 50)
        order_info = _text(body, "orderInfo", 255)
        ipn_url = _text(body, "ipnUrl")
        if not ipn_url.startswith(("http://", "https://")):
            raise bad_format("ipnUrl")
        extra = _text(body, "extraData")
        if extra and not _is_base64_json_object(extra):
            raise bad_format("extraData")
        lang = body.get("lang")
        if lang not in ("vi", "en"):
            raise bad_format("lang")
        auto_capture = body.get("autoCapture", True)
        if not isinstance(auto_capture, bool):
            raise bad_format("autoCapture")
        if order_id in self.order_ids:
            raise Refusal(41)
        token = secrets.token_urlsafe(24)
        proof = hmac_sha256_hex(self.options.secret_key.encode(), token.encode())
        order = Order(
            order_id=order_id,
            request_id=str(body["requestId"]),
            amount=amount,
            order_info=order_info,
            request_type=request_type,
            ipn_url=ipn_url,
            redirect_url=_text(body, "redirectUrl"),
            extra_data=extra,
            lang=str(lang),
            auto_capture=auto_capture,
            token=token,
            pay_url=f"{base_url}/v2/gateway/pay?t={token}&s={proof}",
            expires_at=self._expiry(body.get("orderExpireTime")),
        )
        self.orders[order_id] = order
        self.order_ids.add(order_id)
        self.by_token[token] = order
        answer: dict[str, Any] = {
            "partnerCode": self.options.partner_code,
            "requestId": order.request_id,
            "orderId": order_id,
            "amount": amount,
            "responseTime": self.now_ms(),
            "message": SUCCESS_MESSAGE[order.lang],
            "resultCode": 0,
            "payUrl": order.pay_url,
            "deeplink": f"momo://app?action=payWithApp&isScanQR=false&serviceType=app&sid={token}",
            "qrCodeUrl": f"00020101021226110007vn.momo38{len(token):02d}{token}5303704",
            "deeplinkMiniApp": f"momo://app?action=payWithApp&serviceType=miniapp&sid={token}",
        }
        if self.options.sign_responses:
            answer = signatures.signed(
                self.options.secret_key, self.options.access_key, signatures.CREATE_RESPONSE, answer
            )
        return Answer(200, answer)

    def _expiry(self, value: Any) -> float:
        now = self.clock()
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            if self.options.order_expire_time_unit == "minutes":
                return now + value * 60
            return value / 1000
        return now + self.options.pay_url_ttl_seconds

    # --- query (A5) --------------------------------------------------------------------------

    def query(self, body: Mapping[str, Any]) -> Answer:
        order = self.order(body.get("orderId"))
        entry = lookup(order.result_code)
        message = SUCCESS_MESSAGE.get(order.lang) if order.result_code == 0 else None
        return Answer(
            200,
            {
                "partnerCode": self.options.partner_code,
                "requestId": body["requestId"],
                "orderId": order.order_id,
                "extraData": order.extra_data,
                "amount": order.amount,
                "transId": order.trans_id,
                "payType": order.pay_type,
                "resultCode": order.result_code,
                "refundTrans": list(order.refunds),
                "message": message or (entry.description if entry else ""),
                "responseTime": self.now_ms(),
                "lastUpdated": self.now_ms(),
                "paymentOption": "momo",
                "promotionInfo": None,
            },
        )

    # --- confirm (A6) ------------------------------------------------------------------------

    def confirm(self, body: Mapping[str, Any]) -> tuple[Answer, Order | None]:
        """The answer, and the order when it changed (for an IPN, where configured)."""
        request_type = body.get("requestType")
        if request_type not in ("capture", "cancel"):
            raise bad_format("requestType")
        if not isinstance(body.get("description", ""), str):
            raise bad_format("description")
        amount = _amount(body["amount"])
        order = self.order(body.get("orderId"))
        if order.result_code != 9000:
            raise Refusal(47, "The transaction is not authorized: nothing to confirm.")
        if amount != order.amount:
            raise Refusal(22, "The amount must equal the authorized amount.")
        order.result_code = 0 if request_type == "capture" else 1017
        answer = {
            "partnerCode": self.options.partner_code,
            "orderId": order.order_id,
            "requestId": body["requestId"],
            "amount": order.amount,
            "transId": order.trans_id,
            "resultCode": 0,
            "message": SUCCESS_MESSAGE[order.lang],
            "requestType": request_type,
            "responseTime": self.now_ms(),
        }
        return Answer(200, answer), order

    # --- refund (A7) -------------------------------------------------------------------------

    def refund(self, body: Mapping[str, Any]) -> Answer:
        order_id = _text(body, "orderId", 200)
        if not ORDER_ID.match(order_id):
            raise bad_format("orderId")
        if not isinstance(body.get("description", ""), str):
            raise bad_format("description")
        amount = _amount(body["amount"])
        if not REFUND_LIMITS[0] <= amount <= REFUND_LIMITS[1]:
            raise Refusal(22)
        if order_id in self.order_ids:
            raise Refusal(41)
        try:
            trans_id = _amount(body["transId"])
        except Refusal:
            raise bad_format("transId") from None
        purchase = self.by_trans_id.get(trans_id)
        if purchase is None:
            raise Refusal(42, "Invalid or unknown transId.")
        self._age(purchase)
        if purchase.result_code != 0:
            return self.refusal(Refusal(1088))
        if purchase.refunded + amount > purchase.amount:
            return self.refusal(Refusal(1081))
        refund_trans_id = self._trans_id()
        self.order_ids.add(order_id)
        purchase.refunds.append(
            {
                "orderId": order_id,
                "amount": amount,
                "resultCode": 0,
                "transId": refund_trans_id,
                "createdTime": self.now_ms(),
            }
        )
        answer = {
            "partnerCode": self.options.partner_code,
            "orderId": order_id,
            "requestId": body["requestId"],
            "amount": amount,
            "transId": refund_trans_id,
            "resultCode": 0,
            "message": SUCCESS_MESSAGE.get(str(body.get("lang")), "Successful."),
            "responseTime": self.now_ms(),
        }
        return Answer(200, answer)

    # --- the customer on the pay page --------------------------------------------------------

    def settle(self, order: Order, outcome: str, code: int | None, pay_type: str | None) -> bool:
        """The customer's choice; True when it is a result MoMo notifies (0, 9000, failures)."""
        self._age(order)
        if order.result_code == 1005:
            return True  # a late payment gets 1005
        if order.result_code not in (1000, 7000, 7002, 8000):
            raise ControlError(409, f"order already settled with resultCode {order.result_code}")
        chosen = _chosen(outcome, code)
        entry = lookup(chosen)
        if outcome == "success":
            order.trans_id = self._trans_id()
            self.by_trans_id[order.trans_id] = order
            order.pay_type = pay_type or self.options.pay_type
            order.result_code = 0 if order.auto_capture else 9000
            order.authorized_at = self.clock()
            return True
        order.result_code = chosen
        if entry is not None and entry.kind in (Kind.FAILED, Kind.EXPIRED):
            order.trans_id = self._trans_id()
            order.pay_type = pay_type or self.options.pay_type
            return True
        return False

    def ipn_body(self, order: Order) -> dict[str, Any]:
        entry = lookup(order.result_code)
        if order.result_code == 0:
            message = SUCCESS_MESSAGE[order.lang]
        else:
            message = entry.description if entry else str(order.result_code)
        body = {
            "partnerCode": self.options.partner_code,
            "orderId": order.order_id,
            "requestId": order.request_id,
            "amount": order.amount,
            "orderInfo": order.order_info,
            "orderType": "momo_wallet",
            "transId": order.trans_id,
            "resultCode": order.result_code,
            "message": message,
            "payType": order.pay_type,
            "responseTime": self.now_ms(),
            "extraData": order.extra_data,
        }
        return signatures.signed(
            self.options.secret_key, self.options.access_key, signatures.IPN, body
        )

    def take_fault(self, operation: str) -> str | None:
        queued = self.faults.get(operation)
        return queued.pop(0) if queued else None


def _chosen(outcome: str, code: int | None) -> int:
    defaults = {"success": 0, "decline": 1006, "pending": 1000}
    if outcome not in defaults:
        raise ControlError(422, "outcome must be success, decline or pending")
    chosen = defaults[outcome] if code is None else code
    entry = lookup(chosen)
    wanted = {
        "success": (Kind.SUCCESS,),
        "decline": (Kind.FAILED, Kind.EXPIRED),
        "pending": (Kind.PENDING,),
    }
    if entry is None or entry.kind not in wanted[outcome]:
        raise ControlError(422, f"resultCode {chosen} is not a {outcome} result")
    return chosen


def bad_format(name: str) -> Refusal:
    return Refusal(20, sub_errors=[{"field": name, "message": "Sai định dạng."}])


def _text(body: Mapping[str, Any], name: str, limit: int | None = None) -> str:
    value = body.get(name)
    if not isinstance(value, str) or (limit is not None and len(value) > limit):
        raise bad_format(name)
    return value


def _amount(value: Any) -> int:
    """A Long, or its decimal text (samples send strings and MoMo accepts them)."""
    if isinstance(value, bool):
        raise Refusal(21)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value() and value.is_finite():
        return int(value)
    raise Refusal(21)


def _is_base64_json_object(value: str) -> bool:
    try:
        return isinstance(json.loads(base64.b64decode(value, validate=True)), dict)
    except (binascii.Error, ValueError):
        return False
