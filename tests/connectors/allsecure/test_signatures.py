"""AllSecure (IXOPAY) signatures against the spec's vectors (4.2), each also recomputed here with
`hmac`/`hashlib` written out; callback verification with the vector D callback."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from payrelay.connectors.allsecure import signatures, webhooks
from payrelay.connectors.base import IncomingWebhook, WebhookRejected

SECRET = "sharedSecret"
JSON = "application/json; charset=utf-8"
DATE = "Tue, 21 Apr 2020 12:45:55 UTC"
DEBIT = b'{"merchantTransactionId":"2019-09-02-0001","amount":"9.99","currency":"EUR"}'
CALLBACK = (
    b'{"result":"OK","uuid":"d94c0d72f3a36e21f16e","merchantTransactionId":"2019-09-02-0001",'
    b'"purchaseId":"20240904-d94c0d72f3a36e21f16e","transactionType":"DEBIT",'
    b'"paymentMethod":"Creditcard","amount":"9.99","currency":"EUR"}'
)
CALLBACK_DATE = "Tue, 21 Apr 2020 12:46:00 UTC"

VECTORS = [
    (
        "A-debit-md5",
        "POST",
        DEBIT,
        DATE,
        "/api/v3/transaction/API-KEY-HERE/debit",
        "md5",
        "557405e00447f9e61f17d84ad3fcbd17",
        "E+fENp3GjFYOI6Xx0kfcAnQTDIgdfo6joBQ+BtUBSkDItAxd6SZ7Yns9ACSLDFg51XlelKIsf73iEfGIY5r/3Q==",
    ),
    (
        "B-debit-sha512",
        "POST",
        DEBIT,
        DATE,
        "/api/v3/transaction/API-KEY-HERE/debit",
        "sha512",
        "48e4fad166f48bc79cf362ede4f3e4ef2c81b30cace57ddbb214cd3abc463f1c"
        "bad692606e1c37ddc6c8518d4f09f76830ad373f79e71ccba9cc81214e6b9b4e",
        "zu1oiWysGQlXbC8TdsLZWlQLc9bGKEmIhvnaYJmYQlHClhbcdwZsm5bZ8SPuotrTyyay2/vqVQVO7i2b24Lxag==",
    ),
    (
        "C-status-empty-body",
        "GET",
        b"",
        DATE,
        "/api/v3/status/API-KEY-HERE/getByUuid/d94c0d72f3a36e21f16e",
        "md5",
        "d41d8cd98f00b204e9800998ecf8427e",
        "ynvwcnbUNaZNEiYzaZe72EK+eptyowVDuvpabheVdri3EmodnzaU5BKA7u1IsGN41Yee6Vl2uN7D9Aj/7032VQ==",
    ),
    (
        "D-callback",
        "POST",
        CALLBACK,
        CALLBACK_DATE,
        "/callback?orderId=42",
        "md5",
        "c97196a40b1d83b058eba215fc1f183f",
        "wJukNO3mG0a3rf9XPoT+7KhMeVqNptGjjDo5RLnb7hMQexzRPGHW8U6IaiChOIKwBkH5GhAX8mgmQc90ncIwxA==",
    ),
]


def independent(method: str, body: bytes, date: str, uri: str, body_hash: str) -> str:
    """The spec's algorithm, written out: Base64(HMAC-SHA512(secret, five lines))."""
    if body_hash == "md5":
        hashed = hashlib.md5(body, usedforsecurity=False).hexdigest()
    else:
        hashed = hashlib.sha512(body).hexdigest()
    lines = "\n".join([method, hashed, JSON, date, uri]).encode()
    return base64.b64encode(hmac.new(SECRET.encode(), lines, hashlib.sha512).digest()).decode()


@pytest.mark.parametrize(
    ("method", "body", "date", "uri", "body_hash", "hashed", "expected"),
    [vector[1:] for vector in VECTORS],
    ids=[vector[0] for vector in VECTORS],
)
def test_the_spec_vectors(method, body, date, uri, body_hash, hashed, expected):
    assert signatures.body_hash(body, body_hash) == hashed
    assert signatures.sign(SECRET, method, body, JSON, date, uri, body_hash) == expected
    assert independent(method, body, date, uri, body_hash) == expected
    assert signatures.is_valid(SECRET, expected, method, body, JSON, date, uri)


def test_either_body_hash_is_accepted_and_anything_else_is_not():
    uri = "/api/v3/transaction/API-KEY-HERE/debit"
    md5, sha512 = VECTORS[0][-1], VECTORS[1][-1]
    for given in (md5, sha512):
        assert signatures.is_valid(SECRET, given, "POST", DEBIT, JSON, DATE, uri)
    assert not signatures.is_valid("other", md5, "POST", DEBIT, JSON, DATE, uri)
    assert not signatures.is_valid(SECRET, md5, "GET", DEBIT, JSON, DATE, uri)
    assert not signatures.is_valid(SECRET, md5, "POST", DEBIT + b" ", JSON, DATE, uri)
    assert not signatures.is_valid(SECRET, md5, "POST", DEBIT, "application/json", DATE, uri)
    assert not signatures.is_valid(SECRET, md5, "POST", DEBIT, JSON, DATE, uri + "?x=1")
    assert not signatures.is_valid(
        SECRET, md5, "POST", DEBIT, JSON, DATE.replace("UTC", "GMT"), uri
    )


def test_dates_are_written_like_the_php_client_and_read_in_both_forms():
    moment = datetime(2020, 4, 21, 12, 45, 55, tzinfo=UTC)
    assert signatures.http_date(moment) == DATE
    assert signatures.http_date(moment.astimezone(tz=None)) == DATE
    assert signatures.parse_http_date(DATE) == moment
    assert signatures.parse_http_date("Tue, 21 Apr 2020 12:45:55 GMT") == moment
    assert signatures.parse_http_date("yesterday") is None


def test_basic_auth_has_no_trailing_newline():
    # The IXOPAY docs print YW55QXBpVXNlcjpteVBhc3N3b3JkCg== (with "\n"); the spec corrects it.
    assert signatures.basic_auth("anyApiUser", "myPassword") == "Basic YW55QXBpVXNlcjpteVBhc3N3b3Jk"
    assert base64.b64encode(b"anyApiUser:myPassword").decode() == "YW55QXBpVXNlcjpteVBhc3N3b3Jk"


def test_the_signed_uri_is_the_path_and_query_only():
    assert signatures.request_uri("https://asxgw.com/api/v3/x/debit") == "/api/v3/x/debit"
    assert (
        signatures.request_uri("https://pay.example/callback?orderId=42") == "/callback?orderId=42"
    )
    assert signatures.request_uri("https://pay.example") == "/"


def callback(headers: dict[str, str], body: bytes = CALLBACK, delay: float = 5) -> IncomingWebhook:
    received = datetime(2020, 4, 21, 12, 46, tzinfo=UTC) + timedelta(seconds=delay)
    return IncomingWebhook(
        headers={"content-type": JSON, **headers}, body=body, received_at=received
    )


URL = "https://payrelay.example/callback?orderId=42"
SIGNED = {"date": CALLBACK_DATE, "x-signature": VECTORS[3][-1]}


def test_the_vector_callback_verifies():
    webhooks.verify(SECRET, URL, callback(SIGNED))
    webhooks.verify(
        SECRET, URL, callback({"x-date": CALLBACK_DATE, "x-signature": SIGNED["x-signature"]})
    )
    sha512 = signatures.sign(
        SECRET, "POST", CALLBACK, JSON, CALLBACK_DATE, "/callback?orderId=42", "sha512"
    )
    webhooks.verify(SECRET, URL, callback({**SIGNED, "x-signature": sha512}))


@pytest.mark.parametrize(
    ("secret", "url", "webhook", "reason"),
    [
        ("other-secret", URL, callback(SIGNED), "does not match"),
        (SECRET, "https://payrelay.example/callback", callback(SIGNED), "does not match"),
        (SECRET, URL, callback(SIGNED, body=CALLBACK.replace(b"9.99", b"0.01")), "does not match"),
        (SECRET, URL, callback({**SIGNED, "content-type": "application/json"}), "does not match"),
        (SECRET, URL, callback({"date": CALLBACK_DATE}), "without X-Signature"),
        (SECRET, URL, callback({"x-signature": SIGNED["x-signature"]}), "without a Date"),
        (SECRET, URL, callback(SIGNED, delay=301), "tolerance"),
        (SECRET, URL, callback(SIGNED, delay=-301), "tolerance"),
    ],
    ids=["secret", "uri", "body", "content-type", "no-signature", "no-date", "late", "early"],
)
def test_a_callback_that_does_not_verify_is_rejected(secret, url, webhook, reason):
    with pytest.raises(WebhookRejected, match=reason):
        webhooks.verify(secret, url, webhook)
