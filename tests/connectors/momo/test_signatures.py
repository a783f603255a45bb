"""MoMo signatures against the spec's computed vectors (A12), with Vietnamese text as UTF-8."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest

from payrelay.connectors.momo import signatures

SECRET = "K951B6PE1waDMi640xX08PD3vg6EkVlz"
ACCESS = "F8BBA842ECF85"


def _fields(raw: str) -> dict[str, str]:
    """`k=v&k=v` from the spec, split on the first `=` of each pair (values may hold `=`)."""
    return dict(pair.split("=", 1) for pair in raw.split("&"))


VECTORS = [
    (
        "create",
        signatures.CREATE,
        "accessKey=F8BBA842ECF85&amount=50000&extraData=&ipnUrl=https://callback.url/notify"
        "&orderId=MOMO1700000000000&orderInfo=pay with MoMo&partnerCode=MOMO"
        "&redirectUrl=https://momo.vn/return&requestId=MOMO1700000000000"
        "&requestType=captureWallet",
        "4378bb95714712f6be833da81f743910a01e5ba6279bfe596b8a08e891259424",
    ),
    (
        "create-utf8",
        signatures.CREATE,
        "accessKey=F8BBA842ECF85&amount=150000&extraData=eyJvcmRlcklkIjoiMTIzIn0="
        "&ipnUrl=https://shop.example/momo/ipn&orderId=ORD123-1"
        "&orderInfo=Thanh toán đơn hàng 123&partnerCode=MOMO"
        "&redirectUrl=https://shop.example/momo/return"
        "&requestId=3f1c9a2e-0000-4000-8000-000000000001&requestType=payWithMethod",
        "6635e585085f843754a0cc5eb8a7dfa8f3601d9f386e64e31c4b6131e184a5fc",
    ),
    (
        "ipn",
        signatures.IPN,
        "accessKey=F8BBA842ECF85&amount=1000&extraData=eyJza3VzIjoiIn0=&message=Successful."
        "&orderId=Partner_Transaction_ID_1721720620078"
        "&orderInfo=Thank you for your purchase at MoMo_test&orderType=momo_wallet"
        "&partnerCode=MOMO&payType=qr&requestId=Request_ID_1721720620078"
        "&responseTime=1721720663942&resultCode=0&transId=4088878653",
        "c7495f9e342872395d4dbc711ff662d2bb5cb08cca4aec66272d74f70ade021a",
    ),
    (
        "query",
        signatures.QUERY,
        "accessKey=F8BBA842ECF85&orderId=MOMO1700000000000&partnerCode=MOMO"
        "&requestId=MOMO1700000000001",
        "a26066ed14201c6eba262240cd1472f31ffe9b8b7af1c7131791b9cef097464a",
    ),
    (
        "confirm",
        signatures.CONFIRM,
        "accessKey=F8BBA842ECF85&amount=50000&description=&orderId=MOMO1700000000000"
        "&partnerCode=MOMO&requestId=MOMO1700000000002&requestType=capture",
        "5c4c870596f13859371be85b40aee056cd032204fd87590915c289b1df7b9fbd",
    ),
    (
        "refund",
        signatures.REFUND,
        "accessKey=F8BBA842ECF85&amount=20000&description=refund test&orderId=RF1700000000003"
        "&partnerCode=MOMO&requestId=RF1700000000003&transId=4088878653",
        "670a408f8922c38efd70e8bf07f3a2557d191c200a774cd1006fd58b4555efd5",
    ),
]


@pytest.mark.parametrize(
    ("fields", "raw", "expected"), [v[1:] for v in VECTORS], ids=[v[0] for v in VECTORS]
)
def test_the_spec_vectors(fields, raw, expected):
    values = _fields(raw)
    # The field order is ours, not the vector's: shuffled input gives the same string.
    shuffled = dict(reversed(list(values.items())))
    assert signatures.raw_signature(fields, shuffled) == raw
    assert signatures.sign(SECRET, fields, shuffled) == expected


def test_integers_sign_as_plain_decimal_text():
    values = _fields(VECTORS[2][2])
    typed = {
        **values,
        "amount": 1000,
        "transId": Decimal("4088878653"),
        "responseTime": 1721720663942,
        "resultCode": 0,
    }
    assert signatures.sign(SECRET, signatures.IPN, typed) == VECTORS[2][3]


def test_vietnamese_text_is_signed_as_utf8():
    values = _fields(VECTORS[1][2])
    raw = signatures.raw_signature(signatures.CREATE, values)
    independent = hmac.new(SECRET.encode(), raw.encode("utf-8"), hashlib.sha256).hexdigest()
    assert signatures.sign(SECRET, signatures.CREATE, values) == independent
    assert "Thanh toán đơn hàng 123" in raw
    # The ASCII mistake of MoMo's python sample cannot even encode it.
    with pytest.raises(UnicodeEncodeError):
        raw.encode("ascii")
    # A different diacritic is a different signature.
    changed = {**values, "orderInfo": "Thanh toan don hang 123"}
    assert signatures.sign(SECRET, signatures.CREATE, changed) != independent


def test_signed_adds_the_signature_and_never_sends_the_access_key():
    body = {key: value for key, value in _fields(VECTORS[3][2]).items() if key != "accessKey"}
    sent = signatures.signed(SECRET, ACCESS, signatures.QUERY, body)
    assert sent["signature"] == VECTORS[3][3]
    assert "accessKey" not in sent
    assert signatures.is_valid(SECRET, ACCESS, signatures.QUERY, sent)
    assert not signatures.is_valid(SECRET, ACCESS, signatures.QUERY, {**sent, "orderId": "X1"})
    assert not signatures.is_valid("another-secret", ACCESS, signatures.QUERY, sent)


@pytest.mark.parametrize("value", [True, 1.5, Decimal("1.5"), None, ["1"]])
def test_values_that_cannot_be_signed(value):
    with pytest.raises(signatures.UnsignableValue):
        signatures.signed_text(value)


def test_a_missing_field_is_not_valid():
    body = {"partnerCode": "MOMO", "requestId": "r1", "signature": "00"}
    assert not signatures.is_valid(SECRET, ACCESS, signatures.QUERY, body)
