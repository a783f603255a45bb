"""MoMo's request and notification signatures (spec A2).

`signature` is the lowercase hex HMAC-SHA256 of `k1=v1&k2=v2…`, keyed with the secret key, both as
UTF-8. Each operation signs a fixed, alphabetical list of fields; values go in exactly as they
are sent (not URL-encoded, not trimmed) and an empty value still appears (`extraData=`).
`accessKey` is always signed and never needs to be in the body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from payrelay.kit.crypto import constant_time_equals, hmac_sha256_hex

CREATE = (
    "accessKey",
    "amount",
    "extraData",
    "ipnUrl",
    "orderId",
    "orderInfo",
    "partnerCode",
    "redirectUrl",
    "requestId",
    "requestType",
)
# Also the redirect's signature (spec A4).
IPN = (
    "accessKey",
    "amount",
    "extraData",
    "message",
    "orderId",
    "orderInfo",
    "orderType",
    "partnerCode",
    "payType",
    "requestId",
    "responseTime",
    "resultCode",
    "transId",
)
QUERY = ("accessKey", "orderId", "partnerCode", "requestId")
CONFIRM = (
    "accessKey",
    "amount",
    "description",
    "orderId",
    "partnerCode",
    "requestId",
    "requestType",
)
REFUND = ("accessKey", "amount", "description", "orderId", "partnerCode", "requestId", "transId")
# Not in MoMo's tables: one third-party adapter checks it when present; nobody may require it.
CREATE_RESPONSE = (
    "accessKey",
    "amount",
    "orderId",
    "partnerCode",
    "payUrl",
    "requestId",
    "responseTime",
    "resultCode",
)


class UnsignableValue(ValueError):
    """A field that is missing or cannot be written as MoMo signs it."""


def signed_text(value: Any) -> str:
    """A value as it appears in the signed string: text as is, integers in plain decimal."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise UnsignableValue(f"a boolean is never signed: {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    raise UnsignableValue(f"cannot sign {value!r}")


def raw_signature(fields: Sequence[str], values: Mapping[str, Any]) -> str:
    try:
        return "&".join(f"{name}={signed_text(values[name])}" for name in fields)
    except KeyError as exc:
        raise UnsignableValue(f"missing field {exc.args[0]!r}") from None


def sign(secret_key: str, fields: Sequence[str], values: Mapping[str, Any]) -> str:
    raw = raw_signature(fields, values)
    return hmac_sha256_hex(secret_key.encode("utf-8"), raw.encode("utf-8"))


def signed(
    secret_key: str, access_key: str, fields: Sequence[str], body: Mapping[str, Any]
) -> dict[str, Any]:
    """`body` with its `signature` added (the access key is signed, not sent)."""
    signature = sign(secret_key, fields, {**body, "accessKey": access_key})
    return {**body, "signature": signature}


def is_valid(
    secret_key: str, access_key: str, fields: Sequence[str], body: Mapping[str, Any]
) -> bool:
    """Whether `body["signature"]` signs `fields` of `body`; False when a field is unusable."""
    given = body.get("signature")
    if not isinstance(given, str):
        return False
    try:
        expected = sign(secret_key, fields, {**body, "accessKey": access_key})
    except UnsignableValue:
        return False
    return constant_time_equals(expected, given.lower())
