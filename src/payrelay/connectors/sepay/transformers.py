"""Pure mapping for SePay: payment codes, transfer instructions, transfers as canonical events,
and the transactions API's items turned back into webhook bodies.

Payment code = PREFIX + 17 data characters + 3 check characters (Crockford base32: digits and
uppercase letters without I, L, O, U). The data are 85 bits of the payment id: the 48-bit
millisecond timestamp of its UUIDv7 and the low 37 bits of the 42 after it (the generator's
counter within a millisecond, randomly seeded), so the code is derived from the id alone, the same
on every call, and two payments only share one if two processes created them in the same
millisecond with counters 37 bits alike. With a prefix of at most 5 letters the code fits the 25
characters a VietQR transfer content may hold.

Banks insert spaces, change case and glue their own text around the content, so a code is found
by removing everything but letters and digits and trying every place the prefix occurs: the check
characters tell the payment code from the bank's text.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from payrelay.connectors.base import GatewayEvent, NextAction, PaymentOutcome

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
# Read as Crockford does: letters a customer may type for a digit.
_VALUES = {char: value for value, char in enumerate(ALPHABET)} | {"O": 0, "I": 1, "L": 1}
DATA_LENGTH = 17  # 85 bits
CHECK_LENGTH = 3  # 15 bits: one stretch of bank text in 30,000 passes for a code
SUFFIX_LENGTH = DATA_LENGTH + CHECK_LENGTH
PREFIX_PATTERN = re.compile(r"[A-Z]{2,5}")
VIETQR_CONTENT_LIMIT = 25  # EMVCo "purpose of transaction" (tag 62-08)
QR_IMAGE_URL = "https://qr.sepay.vn/img"

# `transactionDate` is the bank's local time (Vietnam, UTC+7, no daylight saving) [?].
VIETNAM = timezone(timedelta(hours=7))
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

EVENT_IN = "transfer.in"
EVENT_OUT = "transfer.out"
STATUS_RECEIVED = "TRANSFER_RECEIVED"
STATUS_UNMATCHED = "TRANSFER_UNMATCHED"
STATUS_OUTGOING = "TRANSFER_OUT"
STATUS_AWAITING = "AWAITING_TRANSFER"
STATUS_FOUND = "TRANSFERS_FOUND"


class MalformedTransfer(ValueError):
    """A transfer (webhook body or transactions API item) that cannot be read."""


# --- payment codes ----------------------------------------------------------------------------


def normalize_prefix(prefix: str) -> str:
    """The prefix as codes carry it (uppercase); ValueError unless it is 2 to 5 letters."""
    normalized = prefix.strip().upper()
    if not PREFIX_PATTERN.fullmatch(normalized):
        raise ValueError("payment_code_prefix must be 2 to 5 letters (A-Z)")
    return normalized


def payment_code(prefix: str, payment_id: uuid.UUID) -> str:
    """The transfer content that identifies this payment: always the same for the same id."""
    value = payment_id.int
    timestamp = value >> 80  # 48 bits
    rand_a = (value >> 64) & 0x7F  # the low 7 of the 12 bits after the version nibble
    rand_b = (value >> 32) & ((1 << 30) - 1)  # the 30 bits after the variant
    data = _encode((timestamp << 37) | (rand_a << 30) | rand_b, DATA_LENGTH)
    return normalize_prefix(prefix) + data + _check(data)


def squash(text: str) -> str:
    """Uppercase ASCII letters and digits only: what is left of a code after a bank reformats
    the content (spaces inserted, case changed, punctuation added)."""
    return "".join(char for char in text.upper() if "A" <= char <= "Z" or "0" <= char <= "9")


def find_code(prefix: str, *texts: object) -> str | None:
    """The first valid payment code in `texts` (tried in order), in its canonical form."""
    prefix = normalize_prefix(prefix)
    for text in texts:
        if not isinstance(text, str) or not text:
            continue
        squashed = squash(text)
        start = squashed.find(prefix)
        while start != -1:
            suffix = squashed[start + len(prefix) : start + len(prefix) + SUFFIX_LENGTH]
            canonical = _canonical_suffix(suffix)
            if canonical is not None:
                return prefix + canonical
            start = squashed.find(prefix, start + 1)
    return None


def created_at(payment_id: uuid.UUID) -> datetime | None:
    """When a UUIDv7 payment id was made (None for other versions)."""
    if payment_id.version != 7:
        return None
    return datetime.fromtimestamp((payment_id.int >> 80) / 1000, tz=UTC)


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(ALPHABET[digit])
    if value:
        raise ValueError("value does not fit")
    return "".join(reversed(chars))


def _check(data: str) -> str:
    digest = hashlib.sha256(data.encode()).digest()
    return _encode(int.from_bytes(digest[:2], "big") >> 1, CHECK_LENGTH)


def _canonical_suffix(suffix: str) -> str | None:
    if len(suffix) != SUFFIX_LENGTH:
        return None
    try:
        canonical = "".join(ALPHABET[_VALUES[char]] for char in suffix)
    except KeyError:  # U is never part of a code
        return None
    data, check = canonical[:DATA_LENGTH], canonical[DATA_LENGTH:]
    return canonical if _check(data) == check else None


# --- create -----------------------------------------------------------------------------------


def transfer_instructions(
    *, code: str, amount: Decimal, bank_code: str, account_number: str, account_name: str
) -> NextAction:
    whole = _whole(amount)
    query = urlencode({"acc": account_number, "bank": bank_code, "amount": whole, "des": code})
    return NextAction(
        "bank_transfer",
        {
            "bank_code": bank_code,
            "account_number": account_number,
            "account_name": account_name,
            "amount": str(whole),
            "currency": "VND",
            "transfer_content": code,
            "qr_url": f"{QR_IMAGE_URL}?{query}",
        },
    )


# --- transfers ----------------------------------------------------------------------------


def transfer_event(
    body: Mapping[str, Any], *, prefix: str, bank_account: str, fallback_time: datetime
) -> GatewayEvent:
    """One SePay transfer (the webhook body) as a canonical event.

    An incoming transfer carrying one of our codes is `funds_received` for that code; anything
    else (an outgoing transfer, money without a code, money for another bank account, a zero
    amount) is an event without ids, which the core stores and leaves unapplied."""
    event_id = _event_id(body.get("id"))
    transfer_type = body.get("transferType")
    if not isinstance(transfer_type, str):
        raise MalformedTransfer("transferType is missing")
    amount = _amount(body.get("transferAmount"), "transferAmount")
    occurred_at = _transaction_time(body.get("transactionDate")) or fallback_time
    raw = {str(key): _plain(value) for key, value in body.items()}
    direction = transfer_type.strip().lower()
    if direction != "in":
        outgoing = direction == "out"
        return GatewayEvent(
            event_id=event_id,
            event_type=EVENT_OUT if outgoing else "transfer.other",
            outcome=PaymentOutcome.PENDING,
            gateway_status=STATUS_OUTGOING if outgoing else "TRANSFER_OTHER",
            occurred_at=occurred_at,
            amount=amount,
            raw=raw,
        )
    code = None
    if amount > 0 and _same_account(body.get("accountNumber"), bank_account):
        code = find_code(prefix, body.get("code"), body.get("content"), body.get("description"))
    return GatewayEvent(
        event_id=event_id,
        event_type=EVENT_IN,
        outcome=PaymentOutcome.FUNDS_RECEIVED,
        gateway_status=STATUS_RECEIVED if code else STATUS_UNMATCHED,
        occurred_at=occurred_at,
        gateway_transaction_id=code,
        amount=amount,
        raw=raw,
    )


def listed_transfer(item: Mapping[str, Any]) -> dict[str, Any]:
    """A transactions API (v1) item as the webhook body SePay would have sent for it, so the
    missed webhook is parsed, stored and deduplicated exactly like a real one (same `id`)."""
    amount_in = _amount(item.get("amount_in") or "0", "amount_in")
    amount_out = _amount(item.get("amount_out") or "0", "amount_out")
    incoming = amount_in > 0
    raw_id = item.get("id")
    event_id = _event_id(raw_id)
    accumulated = item.get("accumulated")
    return {
        "id": int(event_id) if event_id.isdigit() else event_id,
        "gateway": item.get("bank_brand_name"),
        "transactionDate": item.get("transaction_date"),
        "accountNumber": item.get("account_number"),
        "code": item.get("code"),
        "content": item.get("transaction_content") or "",
        "transferType": "in" if incoming else "out",
        "transferAmount": int(amount_in if incoming else amount_out),
        "accumulated": int(_amount(accumulated, "accumulated")) if accumulated else 0,
        "subAccount": item.get("sub_account"),
        "referenceCode": item.get("reference_number"),
        "description": "",
    }


def listing_window_start(payment_id: uuid.UUID) -> str | None:
    """`transaction_date_min` for a payment's transfers: a day before it was created (bank
    clocks and the timezone of `transactionDate` are not to be trusted to the hour)."""
    created = created_at(payment_id)
    if created is None:
        return None
    return (created - timedelta(days=1)).astimezone(VIETNAM).strftime(DATE_FORMAT)


def _event_id(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise MalformedTransfer("id is missing")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise MalformedTransfer(f"id is not a transaction id: {value!r}")


def _amount(value: Any, name: str) -> Decimal:
    """A whole number of dong, from a JSON number or a numeric string ("18067000.00")."""
    if isinstance(value, bool) or value is None:
        raise MalformedTransfer(f"{name} is missing")
    if isinstance(value, float):  # never produced by our JSON parsing; refuse rather than round
        raise MalformedTransfer(f"{name} is a binary float")
    try:
        amount = Decimal(value) if isinstance(value, int | Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise MalformedTransfer(f"{name} is not an amount: {value!r}") from exc
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise MalformedTransfer(f"{name} is not a whole number of dong: {value!r}")
    return amount.quantize(Decimal(1))


def _plain(value: Any) -> Any:
    """JSON-safe (the raw body goes to the audit trail): numbers read as Decimal go back to
    int when whole, to strings otherwise."""
    if isinstance(value, Decimal):
        return (
            int(value) if value.is_finite() and value == value.to_integral_value() else str(value)
        )
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _whole(amount: Decimal) -> int:
    if amount != amount.to_integral_value():
        raise ValueError("VND amounts are whole numbers")
    return int(amount)


def _transaction_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip(), DATE_FORMAT).replace(tzinfo=VIETNAM)
    except ValueError:
        return None


def _same_account(reported: Any, ours: str) -> bool:
    """A transfer to another of the company's bank accounts is not money for this account's
    payments. A body without an account number is given the benefit of the doubt."""
    if not isinstance(reported, str) or not reported.strip():
        return True
    return squash(reported) == squash(ours)
