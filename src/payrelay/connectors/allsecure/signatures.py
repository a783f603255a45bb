"""IXOPAY request and callback signatures (spec 3.2, 3.6).

`X-Signature` = Base64 of the raw HMAC-SHA512, keyed with the shared secret, over five lines
joined by `\\n`: the HTTP method, the hex hash of the raw body (MD5, or SHA-512 in the "new
algorithm"), the `Content-Type` value, the `Date` value and the request URI (path and query).
Every value goes in exactly as it is sent; the signed header values must match byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit

from payrelay.kit.crypto import constant_time_equals

CONTENT_TYPE = "application/json; charset=utf-8"
BodyHash = Literal["md5", "sha512"]
BODY_HASHES: tuple[BodyHash, ...] = ("md5", "sha512")


def request_uri(url: str) -> str:
    """What is signed of a URL: its path, and `?query` if it has one (no scheme or host)."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def body_hash(body: bytes, algorithm: BodyHash = "md5") -> str:
    if algorithm == "md5":  # a checksum under the HMAC, as the protocol defines it
        return hashlib.md5(body, usedforsecurity=False).hexdigest()
    return hashlib.sha512(body).hexdigest()


def message(method: str, hashed_body: str, content_type: str, date: str, request_uri: str) -> str:
    return "\n".join((method.upper(), hashed_body, content_type, date, request_uri))


def sign(
    secret: str,
    method: str,
    body: bytes,
    content_type: str,
    date: str,
    request_uri: str,
    algorithm: BodyHash = "md5",
) -> str:
    text = message(method, body_hash(body, algorithm), content_type, date, request_uri)
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha512).digest()
    return base64.b64encode(digest).decode("ascii")


def is_valid(
    secret: str,
    signature: str,
    method: str,
    body: bytes,
    content_type: str,
    date: str,
    request_uri: str,
) -> bool:
    """Whether `signature` signs the request with either body hash (MD5 or SHA-512)."""
    return any(
        constant_time_equals(
            sign(secret, method, body, content_type, date, request_uri, algorithm), signature
        )
        for algorithm in BODY_HASHES
    )


def http_date(moment: datetime) -> str:
    """PHP's `D, d M Y H:i:s T` in UTC, as the official client sends it: `Tue, 21 Apr 2020
    12:45:55 UTC` (English names whatever the locale)."""
    moment = moment.astimezone(UTC)
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[moment.weekday()]
    month = (
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
    )[moment.month - 1]
    return f"{day}, {moment.day:02d} {month} {moment.year} {moment:%H:%M:%S} UTC"


def parse_http_date(value: str) -> datetime | None:
    """A `Date` header (`... UTC` or `... GMT`) as an aware datetime; None if unreadable."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed


def basic_auth(username: str, password: str) -> str:
    """`Basic base64(username:password)`, with no trailing newline (the docs' example has one)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"
