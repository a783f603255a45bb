"""The AllSecure emulator's memory and rules (spec 3.2–3.9), without HTTP.

Every request is checked like the gateway checks it — Basic auth, the API key in the path, the
signature — then validated and applied to in-memory transactions with the gateway's rules:
capture only a successful preauthorization and at most what it holds, void only before a
capture, refund at most what a DEBIT or CAPTURE took, every merchantTransactionId once (3004).
Facts the spec leaves unconfirmed are `Options` with the default the spec documents.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from payrelay.connectors.allsecure import signatures
from payrelay.connectors.allsecure.transformers import AMOUNT
from payrelay.kit.crypto import constant_time_equals

CURRENCY = re.compile(r"^[A-Z]{3}$")
ON_CREATE = {
    "redirect": "redirect",
    "finished": "approve",
    "pending": "pending",
    "error": "decline",
}
GATEWAY_MESSAGES = {
    1000: "Request failed",
    1002: "Invalid request data",
    1003: "Processing error",
    1004: "Invalid signature",
    1006: "Logical error",
    1007: "Invalid configuration",
    1008: "System Error occurred",
    2002: "User cancelled",
    2003: "Transaction declined",
    2005: "Transaction expired",
    2006: "Insufficient funds",
    2009: "Expired card",
    2021: "3D-Secure Verification failed",
}
CARD = {
    "_TYPE": "cardData",
    "type": "visa",
    "cardHolder": "Test Customer",
    "expiryMonth": "12",
    "expiryYear": "2030",
    "binDigits": "41111111",
    "firstSixDigits": "411111",
    "lastFourDigits": "1111",
}


@dataclass(frozen=True, slots=True)
class Options:
    """`--option KEY=VALUE` settings; [?] marks what the spec leaves unconfirmed (3.x, 5.1)."""

    api_key: str = "allsecure-test-api-key"
    shared_secret: str = "allsecure-test-shared-secret"  # noqa: S105 (emulator test credential)
    username: str = "allsecure-test-user"
    password: str = "allsecure-test-password"  # noqa: S105 (emulator test credential)
    signature_required: bool = True  # "if required by your merchant configuration"
    date_tolerance_seconds: float = 0.0  # [?] allowed Date skew on requests; 0: not checked
    on_create: str = "redirect"  # a debit without card data: the payment page
    currencies: str = "RSD,EUR"  # [?] what the connector accepts
    partial_capture: bool = True  # [?] acquirer-dependent
    partial_refund: bool = True  # [?] acquirer-dependent (several refunds too)
    authorization_ttl_seconds: float = 0.0  # [?] preauthorization lifetime; 0: unlimited
    callback_body_hash: str = "md5"  # [?] which body hash callbacks are signed with
    callback_retries: int = 3  # [?] retry schedule unpublished
    callback_retry_seconds: float = 2.0
    callback_timeout_seconds: float = 10.0
    notify_operations: bool = True  # [?] callbacks for captures, voids and refunds too
    error_http_status: int = 400  # [?] HTTP status of general errors (validation, 3004)
    auth_http_status: int = 401  # [?] HTTP status of authentication and signature errors
    hang_seconds: float = 30.0  # longest a `hang` fault keeps an answer back

    @classmethod
    def parse(cls, given: Mapping[str, str]) -> Options:
        known = {item.name for item in fields(cls)}
        unknown = set(given) - known
        if unknown:
            raise ValueError(f"unknown allsecure emulator options: {', '.join(sorted(unknown))}")
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
                raise ValueError(f"allsecure emulator option {name}: bad value {text!r}") from None
        options = cls(**values)
        if options.on_create not in ON_CREATE:
            raise ValueError(f"allsecure emulator option on_create: one of {', '.join(ON_CREATE)}")
        if options.callback_body_hash not in signatures.BODY_HASHES:
            raise ValueError("allsecure emulator option callback_body_hash: md5 or sha512")
        return options

    @property
    def accepted_currencies(self) -> frozenset[str]:
        return frozenset(code.strip() for code in self.currencies.split(",") if code.strip())


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


class Refusal(Exception):
    """A general error: no transaction is created (`{"success": false, "errorCode", ...}`)."""

    def __init__(self, code: int, message: str, *, auth: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.auth = auth  # an authentication or signature failure (its own HTTP status)

    def answer(self, options: Options) -> Answer:
        status = options.auth_http_status if self.auth else options.error_http_status
        return Answer(
            status, {"success": False, "errorMessage": self.message, "errorCode": self.code}
        )


class ControlError(Exception):
    """A bad control request (the emulator's own API, not AllSecure's)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Scenario:
    """What the next debit or preauthorize answers (a card, a 3-D Secure challenge, ...)."""

    outcome: str = "redirect"  # redirect | approve | decline | pending
    three_d_secure: bool = False
    error_code: int | None = None  # default: 2003 declined, 2021 after 3-D Secure
    adapter_code: str | None = "05"
    adapter_message: str | None = "Do not honour"

    def error(self, transaction: Transaction) -> dict[str, Any]:
        code = self.error_code or (2021 if transaction.three_d_secure else 2003)
        return error(code, self.adapter_code, self.adapter_message)


@dataclass
class Transaction:
    uuid: str
    merchant_transaction_id: str
    transaction_type: str  # DEBIT, PREAUTHORIZE, CAPTURE, VOID, REFUND
    status: str  # SUCCESS, PENDING, REDIRECT, CANCELLED, ERROR
    amount: Decimal | None
    currency: str | None
    created_at: float
    reference_uuid: str | None = None
    callback_url: str | None = None
    urls: dict[str, str] = field(default_factory=dict)  # success, cancel, error
    merchant_meta_data: str | None = None
    description: str | None = None
    three_d_secure: bool = False
    token: str = ""
    error: dict[str, Any] | None = None
    captured: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    voided: bool = False
    callbacks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def purchase_id(self) -> str:
        return f"{time.strftime('%Y%m%d', time.gmtime(self.created_at))}-{self.uuid}"

    @property
    def initial(self) -> bool:
        return self.transaction_type in ("DEBIT", "PREAUTHORIZE")

    def common(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "uuid": self.uuid,
            "merchantTransactionId": self.merchant_transaction_id,
            "purchaseId": self.purchase_id,
            "transactionType": self.transaction_type,
            "paymentMethod": "Creditcard",
        }
        if self.amount is not None:
            body["amount"] = f"{self.amount:f}"
            body["currency"] = self.currency
        if self.reference_uuid:
            body["referenceUuid"] = self.reference_uuid
        if self.merchant_meta_data is not None:
            body["merchantMetaData"] = self.merchant_meta_data
        if self.initial and self.status == "SUCCESS":
            secure = {"threeDSecure": "MANDATORY", "eci": "05"} if self.three_d_secure else {}
            body["returnData"] = {**CARD, **secure}
        return body

    def answer(self, redirect_url: str | None = None) -> Answer:
        """The transaction response (spec 3.4)."""
        body: dict[str, Any] = {
            "success": self.status != "ERROR",
            "uuid": self.uuid,
            "purchaseId": self.purchase_id,
            "paymentMethod": "Creditcard",
        }
        if self.status == "ERROR":
            body["returnType"] = "ERROR"
            body["errors"] = [self.error or {}]
        elif self.status == "REDIRECT":
            body.update(returnType="REDIRECT", redirectUrl=redirect_url, redirectType="fullpage")
        elif self.status == "PENDING":
            body["returnType"] = "PENDING"
        else:
            body["returnType"] = "FINISHED"
            if "returnData" in (common := self.common()):
                body["returnData"] = common["returnData"]
        return Answer(200, body)

    def status_body(self) -> dict[str, Any]:
        """The status API's view (spec 3.5)."""
        body = {"success": True, "transactionStatus": self.status, **self.common()}
        if self.error:
            body["errors"] = [
                {
                    "message": self.error["errorMessage"],
                    "code": str(self.error["errorCode"]),
                    "adapterMessage": self.error.get("adapterMessage"),
                    "adapterCode": self.error.get("adapterCode"),
                }
            ]
        return body

    def callback_body(self) -> dict[str, Any]:
        """A callback (spec 3.6): `result` OK, PENDING or ERROR, errors at the top level."""
        result = {"SUCCESS": "OK", "PENDING": "PENDING", "REDIRECT": "PENDING"}
        body: dict[str, Any] = {"result": result.get(self.status, "ERROR"), **self.common()}
        if self.error:
            body.update(self.error)
        return body

    def view(self) -> dict[str, Any]:
        return {
            **self.status_body(),
            "captured": f"{self.captured:f}",
            "refunded": f"{self.refunded:f}",
            "voided": self.voided,
            "callbackUrl": self.callback_url,
            "callbacks": list(self.callbacks),
        }


def error(
    code: int, adapter_code: str | None = None, adapter_message: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "errorMessage": GATEWAY_MESSAGES.get(code, f"Error {code}"),
        "errorCode": code,
    }
    if adapter_code or adapter_message:
        body.update(adapterCode=adapter_code, adapterMessage=adapter_message)
    return body


class AllSecureState:
    def __init__(self, options: Options, clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.clock = clock
        self.transactions: dict[str, Transaction] = {}
        self.by_id: dict[str, Transaction] = {}  # merchantTransactionId
        self.scenarios: list[Scenario] = []
        self.calls: list[dict[str, Any]] = []
        self.faults: dict[str, list[str]] = {}

    # --- authentication (spec 3.1, 3.2) -------------------------------------------------------

    def authenticate(
        self, method: str, uri: str, api_key: str, headers: Mapping[str, str], body: bytes
    ) -> None:
        options = self.options
        expected = signatures.basic_auth(options.username, options.password)
        if not constant_time_equals(headers.get("authorization", ""), expected):
            raise Refusal(1000, "Unauthorized", auth=True)
        if api_key != options.api_key:
            raise Refusal(1007, "Invalid API key", auth=True)
        if not options.signature_required:
            return
        signature, date = headers.get("x-signature"), headers.get("date", headers.get("x-date"))
        if not signature or not date:
            raise Refusal(1004, "Signature or Date header missing", auth=True)
        content_type = headers.get("content-type", "")
        if not signatures.is_valid(
            options.shared_secret, signature, method, body, content_type, date, uri
        ):
            raise Refusal(1004, "Invalid signature", auth=True)
        if options.date_tolerance_seconds > 0:
            moment = signatures.parse_http_date(date)
            skew = abs(self.clock() - moment.timestamp()) if moment else float("inf")
            if skew > options.date_tolerance_seconds:
                raise Refusal(1004, "Date header outside tolerance", auth=True)

    # --- transactions (spec 3.3) --------------------------------------------------------------

    def create(self, kind: str, body: Mapping[str, Any], base_url: str) -> Answer:
        """debit or preauthorize: the outcome is the next queued scenario or `on_create`."""
        merchant_id = self._new_id(body)
        amount, currency = _amount(body, "amount"), _currency(body)
        if currency not in self.options.accepted_currencies:
            raise Refusal(1002, f"currency: {currency} is not supported by this connector")
        urls = {name: _url(body, f"{name}Url") for name in ("success", "cancel", "error")}
        meta = body.get("merchantMetaData")
        if meta is not None and (not isinstance(meta, str) or len(meta) > 255):
            raise Refusal(1002, "merchantMetaData: at most 255 characters")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise Refusal(1002, "description: must be a string")
        scenario = (
            self.scenarios.pop(0) if self.scenarios else Scenario(ON_CREATE[self.options.on_create])
        )
        status = {"approve": "SUCCESS", "decline": "ERROR", "pending": "PENDING"}
        transaction = self._add(
            Transaction(
                uuid=secrets.token_hex(10),
                merchant_transaction_id=merchant_id,
                transaction_type=kind,
                status=status.get(scenario.outcome, "REDIRECT"),
                amount=amount,
                currency=currency,
                created_at=self.clock(),
                callback_url=_url(body, "callbackUrl"),
                urls={name: url for name, url in urls.items() if url},
                merchant_meta_data=meta,
                description=description,
                three_d_secure=scenario.three_d_secure,
                token=secrets.token_urlsafe(24),
            )
        )
        if transaction.status == "ERROR":
            transaction.error = scenario.error(transaction)
        redirect = f"{base_url}/redirect/{transaction.uuid}/{transaction.token}"
        return transaction.answer(redirect)

    def capture(self, body: Mapping[str, Any]) -> Transaction:
        merchant_id, reference = self._new_id(body), self._reference(body)
        amount, currency = _amount(body, "amount"), _currency(body)
        problem = None
        if reference.transaction_type != "PREAUTHORIZE" or reference.status != "SUCCESS":
            problem = 1006, "only a successful preauthorization can be captured"
        elif reference.voided or reference.captured > 0:
            problem = 1006, "the preauthorization was already voided or captured"
        elif currency != reference.currency:
            problem = 1006, "the currency differs from the preauthorization"
        elif reference.amount is not None and amount > reference.amount:
            problem = 1006, "the capture exceeds the authorized amount"
        elif amount != reference.amount and not self.options.partial_capture:
            problem = 1006, "partial capture is not supported by this connector"
        elif self._expired(reference):
            problem = 2005, "the preauthorization expired"
        follow_up = self._follow_up("CAPTURE", merchant_id, reference, amount, problem)
        if problem is None:
            reference.captured = amount
        return follow_up

    def void(self, body: Mapping[str, Any]) -> Transaction:
        merchant_id, reference = self._new_id(body), self._reference(body)
        problem = None
        if reference.transaction_type != "PREAUTHORIZE" or reference.status != "SUCCESS":
            problem = 1006, "only a successful preauthorization can be voided"
        elif reference.voided or reference.captured > 0:
            problem = 1006, "the preauthorization was already voided or captured"
        follow_up = self._follow_up("VOID", merchant_id, reference, reference.amount, problem)
        if problem is None:
            reference.voided = True
        return follow_up

    def refund(self, body: Mapping[str, Any]) -> Transaction:
        merchant_id, reference = self._new_id(body), self._reference(body)
        amount, currency = _amount(body, "amount"), _currency(body)
        refundable = (reference.amount or Decimal(0)) - reference.refunded
        problem = None
        if reference.transaction_type not in ("DEBIT", "CAPTURE") or reference.status != "SUCCESS":
            problem = 1006, "only a successful debit or capture can be refunded"
        elif currency != reference.currency:
            problem = 1006, "the currency differs from the refunded transaction"
        elif amount > refundable:
            problem = 1006, "the refund exceeds the refundable amount"
        elif not self.options.partial_refund and amount != reference.amount:
            problem = 1006, "partial refunds are not supported by this connector"
        follow_up = self._follow_up("REFUND", merchant_id, reference, amount, problem)
        follow_up.callback_url = _url(body, "callbackUrl") or follow_up.callback_url
        if problem is None:
            reference.refunded += amount
        return follow_up

    def _follow_up(
        self,
        kind: str,
        merchant_id: str,
        reference: Transaction,
        amount: Decimal | None,
        problem: tuple[int, str] | None,
    ) -> Transaction:
        transaction = self._add(
            Transaction(
                uuid=secrets.token_hex(10),
                merchant_transaction_id=merchant_id,
                transaction_type=kind,
                status="SUCCESS" if problem is None else "ERROR",
                amount=amount,
                currency=reference.currency,
                created_at=self.clock(),
                reference_uuid=reference.uuid,
                callback_url=reference.callback_url if self.options.notify_operations else None,
            )
        )
        if problem is not None:
            transaction.error = {**error(problem[0]), "errorMessage": problem[1].capitalize()}
        return transaction

    def _add(self, transaction: Transaction) -> Transaction:
        self.transactions[transaction.uuid] = transaction
        self.by_id[transaction.merchant_transaction_id] = transaction
        return transaction

    def _new_id(self, body: Mapping[str, Any]) -> str:
        value = body.get("merchantTransactionId")
        if not isinstance(value, str) or not 1 <= len(value) <= 50:
            raise Refusal(1002, "merchantTransactionId: required, at most 50 characters")
        if value in self.by_id:
            raise Refusal(3004, f"The transaction ID '{value}' already exists!")
        return value

    def _reference(self, body: Mapping[str, Any]) -> Transaction:
        value = body.get("referenceUuid")
        reference = self.transactions.get(value) if isinstance(value, str) else None
        if reference is None:
            raise Refusal(1002, "referenceUuid: no such transaction")
        return reference

    def _expired(self, transaction: Transaction) -> bool:
        ttl = self.options.authorization_ttl_seconds
        return ttl > 0 and self.clock() > transaction.created_at + ttl

    # --- the customer, or a script in its place ------------------------------------------------

    def settle(
        self, transaction: Transaction, outcome: str, scenario: Scenario | None = None
    ) -> None:
        """The customer approved, declined or cancelled on the payment page (or 3-D Secure)."""
        if not transaction.initial or transaction.status not in ("REDIRECT", "PENDING"):
            raise ControlError(409, f"transaction is {transaction.status}, not waiting")
        if outcome == "approve":
            transaction.status = "SUCCESS"
        elif outcome == "decline":
            transaction.status = "ERROR"
            transaction.error = (scenario or Scenario()).error(transaction)
        elif outcome == "cancel":
            transaction.status = "CANCELLED"
            transaction.error = error(2002)
        else:
            raise ControlError(422, "outcome must be approve, decline or cancel")

    def by_token(self, uuid: str, token: str) -> Transaction | None:
        transaction = self.transactions.get(uuid)
        if transaction is None or not constant_time_equals(transaction.token, token):
            return None
        return transaction if transaction.token else None

    def take_fault(self, operation: str) -> str | None:
        queued = self.faults.get(operation)
        return queued.pop(0) if queued else None


def _amount(body: Mapping[str, Any], name: str) -> Decimal:
    """A decimal string ("9.99", or "10" as the PHP client sends 10.00); numbers are taken too."""
    value = body.get(name)
    text = f"{value:f}" if isinstance(value, Decimal) else value
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    if not isinstance(text, str) or not AMOUNT.fullmatch(text) or Decimal(text) <= 0:
        raise Refusal(1002, f"{name}: '{name}' is required and must be a decimal string")
    return Decimal(text)


def _currency(body: Mapping[str, Any]) -> str:
    value = body.get("currency")
    if not isinstance(value, str) or not CURRENCY.fullmatch(value):
        raise Refusal(1002, "currency: 'currency' is required (ISO 4217, upper case)")
    return value


def _url(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise Refusal(1002, f"{name}: must be an http(s) URL")
    return value
