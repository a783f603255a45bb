"""SePay emulator: a local stand-in for SePay's servers (`payrelay emulate sepay --port N`).

It simulates transfers reaching the merchant's bank account, sends each one to the webhook URL
the way SePay does (the same JSON body on every attempt, the configured authentication, retries
on the Fibonacci schedule when the answer is not a success) and serves the v1 transactions API
with what it received. Everything is kept in memory.

Control endpoints, for tests and developers:

- `POST /_emulator/transfers` `{"content": "...", "amount": 150000}` simulates a transfer;
  optional `transfer_type` (`in`/`out`), `account_number`, `sub_account`, `reference_code`,
  `transaction_date`, `gateway`, `description`, `code` (override what template recognition
  finds), `webhook_url` (this transfer only), `deliver` (false: the webhook is never sent, the
  transfer is only listed by the API), `wait` (answer once the delivery is over, at most
  `within` seconds);
- `GET /_emulator/transfers`, `GET /_emulator/transfers/{id}?wait=true`: transfers and the
  delivery attempts;
- `POST /_emulator/transfers/{id}/replay`: SePay's manual replay, one attempt, same payload;
- `GET|POST /_emulator/settings`: read or change the options below at run time.

Options (`-o KEY=VALUE`); what the spec marks unconfirmed [?] is an option whose default is the
documented behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

DEFAULTS: dict[str, str] = {
    "account_number": "0123499999",  # the watched bank account
    "bank": "Vietcombank",  # `gateway` in payloads, `bank_brand_name` in the API
    "opening_balance": "0",  # `accumulated` starts here
    "webhook_url": "",  # where webhooks go (a transfer may name its own)
    "auth": "apikey",  # none | apikey | hmac
    "api_key": "emulator-api-key",  # sent as `Authorization: Apikey <api_key>`
    "hmac_secret": "emulator-hmac-secret",
    "hmac_message": "timestamp.body",  # signed string [?]: "timestamp.body" or "body"
    "signature_header": "X-SePay-Signature",  # [?]
    "timestamp_header": "X-SePay-Timestamp",  # [?]
    "signature_prefix": "sha256=",  # [?]
    "api_token": "emulator-api-token",  # the transactions API's Bearer token
    "events": "both",  # in | out | both
    "skip_without_code": "false",  # SePay's "skip if no payment code" filter
    "code_templates": "",  # "PR:20-20:NumberAndLetter;DH:4-10:NumberOnly"; empty: recognition off
    "code_case": "as_sent",  # as_sent | upper: how `code` comes back [?]
    "timezone": "+07:00",  # of `transactionDate` [?]
    "retry": "true",  # the webhook's auto-retry
    "retry_schedule": "1,1,2,3,5,8,13",  # minutes between attempts (current docs) [?]
    "max_age_minutes": "300",  # items older than 5 h are never retried
    "time_scale": "60",  # real seconds per SePay minute (tests use a small value)
    "timeout": "30",  # seconds without a response before an attempt fails [?]
    "success": "2xx",  # 2xx (current docs) | strict (200/201 and {"success": true}, older docs)
    "rate_limit": "2",  # transactions API calls per window, 0 = unlimited [?]
    "rate_limit_window": "1",  # seconds (2 calls per second, as reported) [?]
    "first_id": "100001",  # SePay id of the first simulated transfer
    "description_prefix": "BankAPINotify ",  # `description` = prefix + content
}

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_TEMPLATE = re.compile(r"([A-Za-z]{2,10}):(\d{1,2})-(\d{1,2}):(NumberOnly|NumberAndLetter)")
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


@dataclass(frozen=True, slots=True)
class Template:
    prefix: str
    min_length: int
    max_length: int
    letters: bool

    def find(self, content: str) -> re.Match[str] | None:
        chars = "0-9A-Za-z" if self.letters else "0-9"
        pattern = rf"{re.escape(self.prefix)}([{chars}]{{{self.min_length},{self.max_length}}})"
        return re.search(pattern, content, re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Settings:
    raw: dict[str, str]
    account_number: str
    bank: str
    opening_balance: int
    webhook_url: str
    auth: str
    api_key: str
    hmac_secret: str
    hmac_message: str
    signature_header: str
    timestamp_header: str
    signature_prefix: str
    api_token: str
    events: str
    skip_without_code: bool
    code_templates: tuple[Template, ...]
    code_case: str
    timezone: tzinfo
    retry: bool
    retry_schedule: tuple[float, ...]
    max_age_minutes: float
    time_scale: float
    timeout: float
    success: str
    rate_limit: float
    rate_limit_window: float
    first_id: int
    description_prefix: str


def parse_settings(options: Mapping[str, str]) -> Settings:
    """Typed settings from `-o KEY=VALUE` strings; ValueError names the bad option."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown sepay emulator options: {', '.join(sorted(unknown))}")
    raw = {**DEFAULTS, **{key: str(value) for key, value in options.items()}}

    def choice(key: str, *allowed: str) -> str:
        value = raw[key].strip()
        if value not in allowed:
            raise ValueError(f"{key} must be one of {', '.join(allowed)}")
        return value

    def number(key: str, minimum: float = 0) -> float:
        try:
            value = float(raw[key])
        except ValueError:
            raise ValueError(f"{key} must be a number") from None
        if not value >= minimum:
            raise ValueError(f"{key} must be at least {minimum}")
        return value

    def whole(key: str) -> int:
        try:
            return int(raw[key])
        except ValueError:
            raise ValueError(f"{key} must be a whole number") from None

    def flag(key: str) -> bool:
        return choice(key, "true", "false") == "true"

    try:
        schedule = tuple(float(part) for part in raw["retry_schedule"].split(",") if part.strip())
    except ValueError:
        raise ValueError("retry_schedule must be minutes separated by commas") from None
    if any(gap < 0 for gap in schedule):
        raise ValueError("retry_schedule gaps must not be negative")
    time_scale = number("time_scale")
    if time_scale <= 0:
        raise ValueError("time_scale must be positive")
    return Settings(
        raw=raw,
        account_number=raw["account_number"],
        bank=raw["bank"],
        opening_balance=whole("opening_balance"),
        webhook_url=raw["webhook_url"].strip(),
        auth=choice("auth", "none", "apikey", "hmac"),
        api_key=raw["api_key"],
        hmac_secret=raw["hmac_secret"],
        hmac_message=choice("hmac_message", "timestamp.body", "body"),
        signature_header=raw["signature_header"],
        timestamp_header=raw["timestamp_header"],
        signature_prefix=raw["signature_prefix"],
        api_token=raw["api_token"],
        events=choice("events", "in", "out", "both"),
        skip_without_code=flag("skip_without_code"),
        code_templates=_templates(raw["code_templates"]),
        code_case=choice("code_case", "as_sent", "upper"),
        timezone=_timezone(raw["timezone"]),
        retry=flag("retry"),
        retry_schedule=schedule,
        max_age_minutes=number("max_age_minutes"),
        time_scale=time_scale,
        timeout=number("timeout", minimum=0.001),
        success=choice("success", "2xx", "strict"),
        rate_limit=number("rate_limit"),
        rate_limit_window=number("rate_limit_window", minimum=0.001),
        first_id=whole("first_id"),
        description_prefix=raw["description_prefix"],
    )


def _templates(value: str) -> tuple[Template, ...]:
    templates = []
    for part in re.split(r"[;,]", value):
        if not part.strip():
            continue
        match = _TEMPLATE.fullmatch(part.strip())
        if match is None:
            raise ValueError(f"code_templates: {part!r} is not PREFIX:MIN-MAX:TYPE")
        prefix, low, high, kind = match.groups()
        if not 1 <= int(low) <= int(high) <= 30:
            raise ValueError("code_templates: suffix lengths must be within 1-30")
        templates.append(Template(prefix.upper(), int(low), int(high), kind == "NumberAndLetter"))
    return tuple(templates)


def _timezone(value: str) -> tzinfo:
    match = _OFFSET.fullmatch(value.strip())
    if match is None:
        raise ValueError("timezone must be an offset such as +07:00")
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-offset if sign == "-" else offset)


@dataclass
class Attempt:
    at: str
    url: str | None
    status_code: int | None = None
    response: str | None = None
    error: str | None = None
    success: bool = False
    manual: bool = False


@dataclass
class Transfer:
    id: int
    transfer_type: str
    amount: int
    accumulated: int
    content: str
    description: str
    code: str | None
    account_number: str
    sub_account: str | None
    reference_code: str
    transaction_date: str
    gateway: str
    webhook_url: str | None
    body: bytes  # the webhook body: the same bytes on every attempt
    status: str = "pending"  # pending, delivering, delivered, failed, skipped, not_sent
    reason: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def payload(self) -> dict[str, Any]:
        """The webhook body, keys in the order of SePay's official sample."""
        return {
            "id": self.id,
            "gateway": self.gateway,
            "transactionDate": self.transaction_date,
            "accountNumber": self.account_number,
            "code": self.code,
            "content": self.content,
            "transferType": self.transfer_type,
            "transferAmount": self.amount,
            "accumulated": self.accumulated,
            "subAccount": self.sub_account,
            "referenceCode": self.reference_code,
            "description": self.description,
        }

    def listed(self) -> dict[str, Any]:
        """The v1 transactions API item: ids and amounts are strings."""
        incoming = self.transfer_type == "in"
        return {
            "id": str(self.id),
            "bank_brand_name": self.gateway,
            "account_number": self.account_number,
            "transaction_date": self.transaction_date,
            "amount_out": "0.00" if incoming else f"{self.amount}.00",
            "amount_in": f"{self.amount}.00" if incoming else "0.00",
            "accumulated": f"{self.accumulated}.00",
            "transaction_content": self.content,
            "reference_number": self.reference_code,
            "code": self.code,
            "sub_account": self.sub_account,
            "bank_account_id": "1",
        }

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "payload": self.payload(),
            "delivery": {
                "status": self.status,
                "reason": self.reason,
                "attempts": [vars(attempt) for attempt in self.attempts],
            },
        }


class Emulator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.transfers: dict[int, Transfer] = {}
        self.ids = itertools.count(settings.first_id)
        self.balances: dict[str, int] = {}
        self.calls: deque[float] = deque()
        self.tasks: set[asyncio.Task[None]] = set()
        self.http: httpx.AsyncClient | None = None

    # --- transfers ------------------------------------------------------------------------

    def receive(self, spec: Mapping[str, Any]) -> Transfer:
        settings = self.settings
        content = spec.get("content")
        if not isinstance(content, str):
            raise ValueError("content must be a string")
        amount = spec.get("amount")
        if isinstance(amount, str) and amount.isdigit():
            amount = int(amount)
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError("amount must be a positive whole number of dong")
        transfer_type = spec.get("transfer_type", "in")
        if transfer_type not in ("in", "out"):
            raise ValueError("transfer_type must be in or out")
        account = str(spec.get("account_number") or settings.account_number)
        balance = self.balances.get(account, settings.opening_balance)
        balance += amount if transfer_type == "in" else -amount
        self.balances[account] = balance
        transfer_id = next(self.ids)
        code = spec["code"] if "code" in spec else self._recognize(content)
        now = datetime.now(settings.timezone)
        transfer = Transfer(
            id=transfer_id,
            transfer_type=transfer_type,
            amount=amount,
            accumulated=balance,
            content=content,
            description=str(spec.get("description", settings.description_prefix + content)),
            code=code if code is None else str(code),
            account_number=account,
            sub_account=spec.get("sub_account"),
            reference_code=str(spec.get("reference_code") or f"EMU.{transfer_id}"),
            transaction_date=str(spec.get("transaction_date") or now.strftime(DATE_FORMAT)),
            gateway=str(spec.get("gateway") or settings.bank),
            webhook_url=spec.get("webhook_url"),
            body=b"",
        )
        transfer.body = json.dumps(
            transfer.payload(), separators=(",", ":"), ensure_ascii=False
        ).encode()
        self.transfers[transfer_id] = transfer
        if spec.get("deliver", True) is False:
            transfer.status, transfer.reason = "not_sent", "deliver=false (a missed webhook)"
        elif (skipped := self._filtered(transfer)) is not None:
            transfer.status, transfer.reason = "skipped", skipped
        else:
            self._start(transfer, self._deliver(transfer))
        return transfer

    def replay(self, transfer: Transfer) -> None:
        self._start(transfer, self._replay(transfer))

    async def wait(self, transfer: Transfer, seconds: float) -> None:
        """Until the delivery under way is over (or `seconds` passed)."""
        if transfer.task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(transfer.task), seconds)

    def _recognize(self, content: str) -> str | None:
        for template in self.settings.code_templates:
            match = template.find(content)
            if match is not None:
                suffix = match.group(1)
                return template.prefix + (
                    suffix.upper() if self.settings.code_case == "upper" else suffix
                )
        return None

    def _filtered(self, transfer: Transfer) -> str | None:
        events = self.settings.events
        if events != "both" and transfer.transfer_type != events:
            return f"the webhook only reports money {events}"
        if self.settings.skip_without_code and transfer.code is None:
            return "skip if no payment code"
        return None

    def _start(self, transfer: Transfer, work: Any) -> None:
        transfer.status = "delivering"
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        transfer.task = task
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, transfer: Transfer) -> None:
        """The first attempt now, then retries on the schedule while the answer is not a
        success, never for items older than `max_age_minutes`."""
        settings = self.settings
        schedule = settings.retry_schedule if settings.retry else ()
        loop = asyncio.get_running_loop()
        started = loop.time()
        for number in range(len(schedule) + 1):
            if number:
                gap = schedule[number - 1] * settings.time_scale
                age_minutes = (loop.time() - started + gap) / settings.time_scale
                if age_minutes > settings.max_age_minutes:
                    break
                await asyncio.sleep(gap)
            if await self._attempt(transfer):
                transfer.status = "delivered"
                return
            if transfer.status == "not_sent":
                return
        transfer.status = "failed"

    async def _replay(self, transfer: Transfer) -> None:
        delivered = await self._attempt(transfer, manual=True)
        if transfer.status != "not_sent":
            transfer.status = "delivered" if delivered else "failed"

    async def _attempt(self, transfer: Transfer, manual: bool = False) -> bool:
        settings = self.settings
        url = transfer.webhook_url or settings.webhook_url
        attempt = Attempt(at=datetime.now(settings.timezone).isoformat(), url=url, manual=manual)
        transfer.attempts.append(attempt)
        if not url:
            attempt.error = "no webhook_url configured"
            transfer.status, transfer.reason = "not_sent", attempt.error
            return False
        assert self.http is not None
        try:
            response = await self.http.post(
                url,
                content=transfer.body,
                headers=self._headers(transfer.body),
                timeout=settings.timeout,
            )
        except httpx.HTTPError as exc:
            attempt.error = f"{type(exc).__name__}: {exc}"
            log.info("sepay emulator: webhook %s failed: %s", transfer.id, attempt.error)
            return False
        attempt.status_code = response.status_code
        attempt.response = response.text[:2000]
        attempt.success = self._succeeded(response)
        log.info("sepay emulator: webhook %s answered %s", transfer.id, response.status_code)
        return attempt.success

    def _headers(self, body: bytes) -> dict[str, str]:
        settings = self.settings
        headers = {"Content-Type": "application/json"}
        if settings.auth == "apikey":
            headers["Authorization"] = f"Apikey {settings.api_key}"
        elif settings.auth == "hmac":
            timestamp = str(int(time.time()))
            message = body if settings.hmac_message == "body" else timestamp.encode() + b"." + body
            digest = hmac.new(settings.hmac_secret.encode(), message, hashlib.sha256).hexdigest()
            headers[settings.timestamp_header] = timestamp
            headers[settings.signature_header] = settings.signature_prefix + digest
        return headers

    def _succeeded(self, response: httpx.Response) -> bool:
        if self.settings.success == "2xx":
            return 200 <= response.status_code < 300
        if response.status_code not in (200, 201):
            return False
        try:
            body = response.json()
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("success") is True

    # --- transactions API -----------------------------------------------------------------

    def limited(self) -> bool:
        """True when this call is over the rate limit (a sliding window)."""
        limit = self.settings.rate_limit
        if limit <= 0:
            return False
        now = time.monotonic()
        while self.calls and self.calls[0] <= now - self.settings.rate_limit_window:
            self.calls.popleft()
        if len(self.calls) >= limit:
            return True
        self.calls.append(now)
        return False

    def authorized(self, request: Request) -> bool:
        token = self.settings.api_token
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return (
            bool(token)
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), token.encode())
        )

    def listing(self, params: Mapping[str, str]) -> list[Transfer]:
        found = sorted(self.transfers.values(), key=lambda transfer: -transfer.id)
        if account := params.get("account_number"):
            found = [t for t in found if t.account_number == account]
        if low := params.get("transaction_date_min"):
            found = [t for t in found if t.transaction_date >= _full_date(low, "00:00:00")]
        if high := params.get("transaction_date_max"):
            found = [t for t in found if t.transaction_date <= _full_date(high, "23:59:59")]
        if since := params.get("since_id"):
            found = [t for t in found if t.id > _int(since)]
        if reference := params.get("reference_number"):
            found = [t for t in found if t.reference_code == reference]
        if amount_in := params.get("amount_in"):
            found = [t for t in found if t.transfer_type == "in" and t.amount == _int(amount_in)]
        if amount_out := params.get("amount_out"):
            found = [t for t in found if t.transfer_type == "out" and t.amount == _int(amount_out)]
        limit = min(_int(params.get("limit") or "5000"), 5000)
        return found[: max(limit, 0)]


def _full_date(value: str, default_time: str) -> str:
    value = value.strip()
    return value if " " in value else f"{value} {default_time}"


def _int(value: str) -> int:
    try:
        return int(float(value))
    except ValueError:
        return 0


def _envelope(**extra: Any) -> dict[str, Any]:
    return {"status": 200, "error": None, "messages": {"success": True}, **extra}


def _api_error(status: int, error: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"status": status, "error": error, "messages": {"success": False}}
    return JSONResponse(body, status_code=status, headers=headers)


def _control_error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def create_app(options: dict[str, str]) -> FastAPI:
    """The emulator's ASGI app; ValueError for a bad option."""
    emulator = Emulator(parse_settings(options))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as client:
            emulator.http = client
            yield
            for task in list(emulator.tasks):
                task.cancel()
            await asyncio.gather(*emulator.tasks, return_exceptions=True)

    app = FastAPI(title="SePay emulator", lifespan=lifespan, openapi_url=None)
    app.state.emulator = emulator

    def transfer_or_404(transfer_id: int) -> Transfer | JSONResponse:
        transfer = emulator.transfers.get(transfer_id)
        return transfer if transfer is not None else _control_error("no such transfer", 404)

    @app.get("/")
    async def index() -> dict[str, Any]:
        return {
            "emulator": "sepay",
            "control": ["/_emulator/transfers", "/_emulator/settings"],
            "api": ["/userapi/transactions/list", "/userapi/transactions/details/{id}"],
        }

    @app.get("/_emulator/settings")
    async def get_settings() -> dict[str, str]:
        return emulator.settings.raw

    @app.post("/_emulator/settings", response_model=None)
    async def change_settings(request: Request) -> dict[str, str] | JSONResponse:
        try:
            changes = await _json_object(request)
            values = {**emulator.settings.raw, **{k: _text(v) for k, v in changes.items()}}
            emulator.settings = parse_settings(values)
        except ValueError as exc:
            return _control_error(str(exc))
        return emulator.settings.raw

    @app.post("/_emulator/transfers", response_model=None)
    async def simulate(request: Request) -> JSONResponse:
        try:
            spec = await _json_object(request)
            transfer = emulator.receive(spec)
        except ValueError as exc:
            return _control_error(str(exc))
        if spec.get("wait"):
            await emulator.wait(transfer, float(spec.get("within", 30)))
        return JSONResponse(transfer.view(), status_code=201)

    @app.get("/_emulator/transfers")
    async def transfers() -> dict[str, Any]:
        return {"data": [t.view() for t in sorted(emulator.transfers.values(), key=_by_id)]}

    @app.get("/_emulator/transfers/{transfer_id}", response_model=None)
    async def transfer(
        transfer_id: int, wait: bool = False, within: float = 30
    ) -> dict[str, Any] | JSONResponse:
        found = transfer_or_404(transfer_id)
        if isinstance(found, JSONResponse):
            return found
        if wait:
            await emulator.wait(found, within)
        return found.view()

    @app.post("/_emulator/transfers/{transfer_id}/replay", response_model=None)
    async def replay(transfer_id: int, request: Request) -> dict[str, Any] | JSONResponse:
        found = transfer_or_404(transfer_id)
        if isinstance(found, JSONResponse):
            return found
        options = await _json_object(request) if await request.body() else {}
        emulator.replay(found)
        if options.get("wait"):
            await emulator.wait(found, float(options.get("within", 30)))
        return found.view()

    @app.get("/userapi/transactions/list", response_model=None)
    async def transactions_list(request: Request) -> dict[str, Any] | JSONResponse:
        refused = _api_gate(emulator, request)
        if refused is not None:
            return refused
        found = emulator.listing(request.query_params)
        return _envelope(transactions=[t.listed() for t in found])

    @app.get("/userapi/transactions/count", response_model=None)
    async def transactions_count(request: Request) -> dict[str, Any] | JSONResponse:
        refused = _api_gate(emulator, request)
        if refused is not None:
            return refused
        params = {k: v for k, v in request.query_params.items() if k != "limit"}
        return _envelope(count_transactions=len(emulator.listing(params)))

    @app.get("/userapi/transactions/details/{transfer_id}", response_model=None)
    async def transactions_details(
        transfer_id: str, request: Request
    ) -> dict[str, Any] | JSONResponse:
        refused = _api_gate(emulator, request)
        if refused is not None:
            return refused
        found = emulator.transfers.get(_int(transfer_id))
        if found is None:
            return _api_error(404, "Transaction not found")
        return _envelope(transaction=found.listed())

    return app


def _api_gate(emulator: Emulator, request: Request) -> JSONResponse | None:
    if emulator.limited():
        limit = str(int(emulator.settings.rate_limit))
        return _api_error(
            429,
            "Too Many Requests",
            {
                "Retry-After": str(math.ceil(emulator.settings.rate_limit_window)),
                "X-RateLimit-Limit": limit,
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(
                    int(time.time() + math.ceil(emulator.settings.rate_limit_window))
                ),
            },
        )
    if not emulator.authorized(request):
        return _api_error(401, "Unauthenticated")
    return None


def _by_id(transfer: Transfer) -> int:
    return transfer.id


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
