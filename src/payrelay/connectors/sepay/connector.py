"""SePay: the customer pays by bank transfer with a payment code in the transfer content; SePay
watches the merchant's bank account and reports every transfer by webhook.

Creating a payment calls nothing: the code is derived from the payment id and shown with the
account details and a VietQR image. SePay has no API to capture, void, refund or cancel. Its
transactions API (v1, `GET /userapi/transactions/list`, Bearer token) is used by status queries
to find transfers whose webhook never arrived.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from payrelay.connectors.base import (
    Capabilities,
    ConfigInvalid,
    Connector,
    CreatePayment,
    Decline,
    GatewayEvent,
    GatewayOutcomeUnknown,
    IncomingWebhook,
    OperationOutcome,
    OperationRequest,
    OperationResult,
    PaymentOutcome,
    PaymentResult,
    StatusQuery,
    WebhookAck,
    WebhookRejected,
)
from payrelay.connectors.sepay import transformers, webhooks

DEFAULT_BASE_URL = "https://my.sepay.vn"
LIST_PATH = "/userapi/transactions/list"
LIST_LIMIT = 5000  # the v1 API's maximum page
MIN_INTERVAL = 0.5  # seconds between calls with one token: the v1 API allows 2 per second [?]
DEFAULT_PREFIX = "PR"

REQUIRED = ("bank_account", "bank_code", "account_name", "api_token")
CONFIG_KEYS = frozenset(
    {
        *REQUIRED,
        "payment_code_prefix",
        "webhook_auth",
        "webhook_api_key",
        "webhook_secret",
    }
)
_ACCOUNT = re.compile(r"[0-9A-Za-z]{4,32}")
_BANK = re.compile(r"[0-9A-Za-z]{2,32}")
_TOKEN = re.compile(r"\S{8,512}")

ACK = WebhookAck(200, b'{"success":true}', "application/json")
UNAUTHORIZED = WebhookAck(401, b'{"success":false,"message":"Unauthorized"}', "application/json")
BAD_REQUEST = WebhookAck(400, b'{"success":false,"message":"Bad Request"}', "application/json")

# When the next call with a token may go out (this process only; a 429 is handled anyway).
_next_call: dict[str, float] = {}


class SepayConnector(Connector):
    code = "sepay"
    display_name = "SePay"
    capabilities = Capabilities(
        manual_capture=False,
        refund=False,
        partial_capture=False,
        partial_refund=False,
        multiple_refunds=False,
        void=False,
        status_query=True,
        reports_operations=False,
        cancel_unpaid=False,
        currencies=frozenset({"VND"}),
        default_payment_method="bank_transfer",
    )

    @classmethod
    def prepare_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(config) - CONFIG_KEYS
        if unknown:
            raise ConfigInvalid(f"unknown sepay config keys: {', '.join(sorted(unknown))}")
        prepared: dict[str, Any] = {}
        for key, value in config.items():
            if value is not None and not isinstance(value, str):
                raise ConfigInvalid(f"sepay {key} must be a string")
            if value is not None:
                prepared[key] = value.strip()
        missing = [key for key in REQUIRED if not prepared.get(key)]
        if missing:
            raise ConfigInvalid(f"sepay needs {', '.join(missing)}")
        if not _ACCOUNT.fullmatch(prepared["bank_account"]):
            raise ConfigInvalid("sepay bank_account must be 4 to 32 letters or digits")
        if not _BANK.fullmatch(prepared["bank_code"]):
            raise ConfigInvalid("sepay bank_code must be a bank short name or BIN (e.g. MBBank)")
        if len(prepared["account_name"]) > 100:
            raise ConfigInvalid("sepay account_name must be at most 100 characters")
        try:
            prepared["payment_code_prefix"] = transformers.normalize_prefix(
                prepared.get("payment_code_prefix") or DEFAULT_PREFIX
            )
        except ValueError as exc:
            raise ConfigInvalid(f"sepay {exc}") from exc
        auth = prepared.setdefault("webhook_auth", "apikey").lower()
        prepared["webhook_auth"] = auth
        if auth not in webhooks.AUTH_METHODS:
            raise ConfigInvalid("sepay webhook_auth must be apikey, hmac or none")
        needed = {"apikey": "webhook_api_key", "hmac": "webhook_secret"}.get(auth)
        if needed is not None and not _TOKEN.fullmatch(prepared.get(needed) or ""):
            raise ConfigInvalid(f"sepay webhook_auth {auth} needs {needed} (at least 8 characters)")
        if not _TOKEN.fullmatch(prepared["api_token"]):
            raise ConfigInvalid("sepay api_token must be at least 8 characters without spaces")
        return prepared

    # --- payments -------------------------------------------------------------------------

    async def create_payment(self, request: CreatePayment) -> PaymentResult:
        """Nothing to send: the transfer instructions are the payment."""
        code = self._code(request.payment_id)
        instructions = transformers.transfer_instructions(
            code=code,
            amount=request.amount,
            bank_code=self._config("bank_code"),
            account_number=self._config("bank_account"),
            account_name=self._config("account_name"),
        )
        return PaymentResult(
            outcome=PaymentOutcome.PENDING,
            gateway_status=transformers.STATUS_AWAITING,
            gateway_transaction_id=code,
            next_action=instructions,
            amount=request.amount,
            raw={"payment_code": code, "qr_url": instructions.data["qr_url"]},
        )

    async def capture(self, request: OperationRequest) -> OperationResult:
        return _unsupported("capture")

    async def void(self, request: OperationRequest) -> OperationResult:
        return _unsupported("void")

    async def refund(self, request: OperationRequest) -> OperationResult:
        return _unsupported("refund")

    async def query_status(self, query: StatusQuery) -> PaymentResult:
        """Still pending (money only moves through transfers); the incoming transfers listed for
        the code are returned as missed webhooks, for the core to apply through the inbox."""
        code = query.gateway_transaction_id or self._code(query.payment_id)
        params = {"account_number": self._config("bank_account"), "limit": str(LIST_LIMIT)}
        window_start = transformers.listing_window_start(query.payment_id)
        if window_start is not None:
            params["transaction_date_min"] = window_start
        await self._throttle()
        response = await self.send(
            "GET",
            self._api_base() + LIST_PATH,
            params=params,
            headers={"Authorization": f"Bearer {self._config('api_token')}"},
        )
        if response.status_code != 200:
            raise GatewayOutcomeUnknown(
                f"SePay transactions API answered HTTP {response.status_code}"
                + (" (check api_token)" if response.status_code in (401, 403) else "")
            )
        items = _transactions(response.content)
        found = [event for event in (self._listed_event(item, code) for item in items) if event]
        return PaymentResult(
            outcome=PaymentOutcome.PENDING,
            gateway_status=transformers.STATUS_FOUND if found else transformers.STATUS_AWAITING,
            gateway_transaction_id=code,
            missed_events=tuple(found),
            raw={
                "payment_code": code,
                "transactions_listed": len(items),
                "transfers_found": [event.event_id for event in found],
            },
        )

    # --- webhooks -------------------------------------------------------------------------

    async def verify_webhook(self, webhook: IncomingWebhook) -> None:
        auth = self._config("webhook_auth")
        if auth == "apikey":
            webhooks.verify_api_key(self._config("webhook_api_key"), webhook)
        elif auth == "hmac":
            webhooks.verify_hmac(self._config("webhook_secret"), webhook)
        elif auth != "none":
            raise WebhookRejected(f"unknown webhook_auth {auth!r}")

    def parse_webhook(self, webhook: IncomingWebhook) -> list[GatewayEvent]:
        return webhooks.parse(
            webhook.body,
            prefix=self._config("payment_code_prefix"),
            bank_account=self._config("bank_account"),
            received_at=webhook.received_at,
        )

    def acknowledge(self, events: list[GatewayEvent]) -> WebhookAck:
        return ACK

    def reject(self, reason: str) -> WebhookAck:
        return BAD_REQUEST if reason.startswith(webhooks.MALFORMED) else UNAUTHORIZED

    # --- helpers --------------------------------------------------------------------------

    def _config(self, key: str) -> str:
        value = self.account.config.get(key)
        if key == "payment_code_prefix" and not value:
            return DEFAULT_PREFIX
        if key == "webhook_auth" and not value:
            return "apikey"
        return str(value or "")

    def _code(self, payment_id: uuid.UUID) -> str:
        return transformers.payment_code(self._config("payment_code_prefix"), payment_id)

    def _api_base(self) -> str:
        base = (self.account.base_url or DEFAULT_BASE_URL).rstrip("/")
        return base.removesuffix("/userapi")

    def _listed_event(self, item: Any, code: str) -> GatewayEvent | None:
        """The item as a missed webhook if it is an incoming transfer for `code`."""
        prefix = self._config("payment_code_prefix")
        try:
            if not isinstance(item, Mapping):
                raise transformers.MalformedTransfer("not an object")
            event = webhooks.event_of(
                transformers.listed_transfer(item),
                prefix=prefix,
                bank_account=self._config("bank_account"),
                received_at=datetime.now(UTC),
            )
        except (transformers.MalformedTransfer, WebhookRejected) as exc:
            # Another transfer we cannot read is not our business; one for this code is.
            texts = (
                (item.get("code"), item.get("transaction_content"))
                if isinstance(item, Mapping)
                else ()
            )
            if transformers.find_code(prefix, *texts) == code:
                raise GatewayOutcomeUnknown(f"unreadable SePay transaction: {exc}") from exc
            return None
        if event.outcome is PaymentOutcome.FUNDS_RECEIVED and event.gateway_transaction_id == code:
            return event
        return None

    async def _throttle(self) -> None:
        key = hashlib.sha256(f"{self._api_base()} {self._config('api_token')}".encode()).hexdigest()
        now = time.monotonic()
        slot = max(now, _next_call.get(key, 0.0))
        _next_call[key] = slot + MIN_INTERVAL
        if slot > now:
            await asyncio.sleep(slot - now)


def _transactions(content: bytes) -> list[Any]:
    try:
        body = json.loads(content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayOutcomeUnknown("SePay answered with a body that is not JSON") from exc
    items = body.get("transactions") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise GatewayOutcomeUnknown("SePay answered without a transactions list")
    return items


def _unsupported(operation: str) -> OperationResult:
    """Never reached (the core refuses first): SePay has no API to move money back."""
    return OperationResult(
        outcome=OperationOutcome.DECLINED,
        gateway_status="UNSUPPORTED",
        decline=Decline(
            code="unsupported_by_gateway",
            message=f"SePay cannot {operation} a bank transfer through an API",
        ),
    )
