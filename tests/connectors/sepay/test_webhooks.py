"""SePay webhook authentication (API key, HMAC against the spec's vector) and parsing of the
body alone into canonical events."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from payrelay.connectors.base import IncomingWebhook, PaymentOutcome, WebhookRejected
from payrelay.connectors.sepay import webhooks
from payrelay.connectors.sepay.transformers import payment_code

# B2's official sample, compact JSON in the same key order (B7).
OFFICIAL_SAMPLE = (
    b'{"id":92704,"gateway":"Vietcombank","transactionDate":"2023-03-25 14:02:37",'
    b'"accountNumber":"0123499999","code":null,"content":"chuyen tien mua iphone",'
    b'"transferType":"in","transferAmount":2277000,"accumulated":19077000,"subAccount":null,'
    b'"referenceCode":"MBVCB.3278907687","description":""}'
)
B7_SIGNATURE = "sha256=a248849eb55c5570befda0a0680898c39613ea857b210f6f6912adb95563e06e"
SECRET = "whsec_test_123"
ACCOUNT = "0123499999"
PAYMENT = uuid.UUID("01a200fa-a127-707f-aa25-20755dab4f2a")
CODE = payment_code("PR", PAYMENT)


def webhook(body: bytes = OFFICIAL_SAMPLE, at: datetime | None = None, **headers: str):
    return IncomingWebhook(
        headers={name.replace("_", "-").lower(): value for name, value in headers.items()},
        body=body,
        received_at=at or datetime.now(UTC),
    )


def transfer(**fields) -> bytes:
    body = json.loads(OFFICIAL_SAMPLE)
    body.update(fields)
    return json.dumps(body, separators=(",", ":")).encode()


def parse(body: bytes, at: datetime | None = None):
    return webhooks.parse(
        body, prefix="PR", bank_account=ACCOUNT, received_at=at or datetime.now(UTC)
    )


# --- authentication ---------------------------------------------------------------------


def test_the_hmac_signature_matches_the_spec_vector():
    assert webhooks.signature(SECRET, 1700000000, OFFICIAL_SAMPLE) == B7_SIGNATURE


def test_the_vector_verifies_at_its_own_time():
    at = datetime.fromtimestamp(1700000000 + 60, tz=UTC)
    signed = webhook(at=at, x_sepay_timestamp="1700000000", x_sepay_signature=B7_SIGNATURE)
    webhooks.verify_hmac(SECRET, signed)


@pytest.mark.parametrize(
    ("headers", "secret", "reason"),
    [
        ({"x_sepay_timestamp": "1700000000"}, SECRET, "missing"),
        ({"x_sepay_signature": B7_SIGNATURE}, SECRET, "missing"),
        ({"x_sepay_timestamp": "soon", "x_sepay_signature": B7_SIGNATURE}, SECRET, "malformed"),
        ({"x_sepay_timestamp": "1700000000", "x_sepay_signature": B7_SIGNATURE}, "x", "no match"),
        (
            {"x_sepay_timestamp": "1700000000", "x_sepay_signature": B7_SIGNATURE[7:]},
            SECRET,
            "no match",
        ),
        (
            {"x_sepay_timestamp": "1700000001", "x_sepay_signature": B7_SIGNATURE},
            SECRET,
            "no match",
        ),
    ],
)
def test_a_bad_hmac_is_rejected(headers, secret, reason):
    at = datetime.fromtimestamp(1700000000, tz=UTC)
    with pytest.raises(WebhookRejected, match=reason):
        webhooks.verify_hmac(secret, webhook(at=at, **headers))


def test_a_tampered_body_is_rejected():
    at = datetime.fromtimestamp(1700000000, tz=UTC)
    tampered = OFFICIAL_SAMPLE.replace(b"2277000", b"9277000")
    signed = webhook(tampered, at, x_sepay_timestamp="1700000000", x_sepay_signature=B7_SIGNATURE)
    with pytest.raises(WebhookRejected, match="no matching signature"):
        webhooks.verify_hmac(SECRET, signed)


@pytest.mark.parametrize("drift", [-301, 301, 10**15])
def test_a_timestamp_more_than_five_minutes_away_is_rejected(drift):
    now = int(time.time())
    stamp = now + drift
    signed = webhook(
        x_sepay_timestamp=str(stamp),
        x_sepay_signature=webhooks.signature(SECRET, stamp, OFFICIAL_SAMPLE),
    )
    with pytest.raises(WebhookRejected, match="tolerance"):
        webhooks.verify_hmac(SECRET, signed)


def test_a_fresh_signature_verifies():
    stamp = int(time.time()) - 299
    webhooks.verify_hmac(
        SECRET,
        webhook(
            x_sepay_timestamp=str(stamp),
            x_sepay_signature=webhooks.signature(SECRET, stamp, OFFICIAL_SAMPLE),
        ),
    )


@pytest.mark.parametrize(
    "header", ["Apikey the-key-123", "apikey the-key-123", "APIKEY  the-key-123 "]
)
def test_the_api_key_is_accepted_in_the_authorization_header(header):
    webhooks.verify_api_key("the-key-123", webhook(authorization=header))


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("Apikey the-key-124", "wrong API key"),
        ("Apikey ", "wrong API key"),
        ("Bearer the-key-123", "not an Apikey"),
        ("the-key-123", "not an Apikey"),
    ],
)
def test_a_wrong_or_missing_api_key_is_rejected(header, reason):
    headers = {} if header is None else {"authorization": header}
    with pytest.raises(WebhookRejected, match=reason):
        webhooks.verify_api_key("the-key-123", webhook(**headers))


def test_the_api_key_header_is_what_sepay_sends():
    assert webhooks.api_key_header("k") == "Apikey k"


# --- parsing ------------------------------------------------------------------------------


def test_an_incoming_transfer_with_our_code_is_funds_received_for_that_code():
    [event] = parse(transfer(content=f"thanh toan {CODE}", transferAmount=150000))
    assert event.event_id == "92704"
    assert event.event_type == "transfer.in"
    assert event.outcome is PaymentOutcome.FUNDS_RECEIVED
    assert event.gateway_transaction_id == CODE
    assert event.payment_id is None
    assert event.amount == Decimal(150000)
    assert isinstance(event.amount, Decimal)
    vietnam = timezone(timedelta(hours=7))
    assert event.occurred_at == datetime(2023, 3, 25, 14, 2, 37, tzinfo=vietnam)
    assert event.raw["content"] == f"thanh toan {CODE}"


def test_the_code_is_normalized_exactly_as_it_is_generated():
    spaced = f"{CODE[:7].lower()} {CODE[7:15]} {CODE[15:].lower()}"
    [event] = parse(transfer(content=f"MBVCB.123.456 {spaced}.CT tu 0531 TRAN"))
    assert event.gateway_transaction_id == CODE


def test_sepay_code_field_is_used_and_a_truncated_one_falls_back_to_content_or_description():
    [from_code] = parse(transfer(code=CODE.lower(), content="no code"))
    assert from_code.gateway_transaction_id == CODE
    [cut] = parse(transfer(code=CODE[:12], content="", description=f"BankAPINotify {CODE}"))
    assert cut.gateway_transaction_id == CODE


def test_the_official_sample_has_no_code_so_it_matches_no_payment():
    [event] = parse(OFFICIAL_SAMPLE)
    assert event.outcome is PaymentOutcome.FUNDS_RECEIVED
    assert event.gateway_transaction_id is None
    assert event.payment_id is None
    assert event.amount == Decimal(2277000)
    assert event.gateway_status == "TRANSFER_UNMATCHED"


def test_an_outgoing_transfer_is_pending_without_ids():
    [event] = parse(transfer(transferType="out", content=CODE))
    assert event.event_type == "transfer.out"
    assert event.outcome is PaymentOutcome.PENDING
    assert event.gateway_transaction_id is None
    assert event.payment_id is None


def test_money_for_another_bank_account_of_the_company_matches_no_payment():
    [event] = parse(transfer(content=CODE, accountNumber="9999999999"))
    assert event.gateway_transaction_id is None
    [spaced] = parse(transfer(content=CODE, accountNumber=" 0123 499 999"))
    assert spaced.gateway_transaction_id == CODE


def test_a_zero_transfer_matches_no_payment():
    [event] = parse(transfer(content=CODE, transferAmount=0))
    assert event.gateway_transaction_id is None


def test_amounts_are_decimals_from_integers_strings_or_whole_decimals():
    for value in (150000, "150000", 150000.0, "150000.00"):
        body = transfer(content=CODE).replace(b"2277000", json.dumps(value).encode(), 1)
        [event] = parse(body)
        assert event.amount == Decimal(150000), value
        json.dumps(dict(event.raw))  # the raw body stays JSON for the audit trail


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"\xff\xfe",
        transfer(id=None),
        transfer(id=True),
        transfer(transferType=None),
        transfer(transferAmount=None),
        transfer(transferAmount="12.5"),
        transfer(transferAmount=12.5),
        transfer(transferAmount="lots"),
        transfer(transferAmount="NaN"),
    ],
)
def test_a_malformed_body_is_rejected(body):
    with pytest.raises(WebhookRejected, match="malformed SePay webhook"):
        parse(body)


def test_parsing_depends_on_the_body_alone():
    body = transfer(content=CODE)
    first = parse(body, datetime(2030, 1, 1, tzinfo=UTC))
    again = parse(body, datetime(2031, 1, 1, tzinfo=UTC))
    assert first == again


def test_an_unreadable_transaction_date_falls_back_to_the_receipt_time():
    received = datetime(2030, 1, 1, tzinfo=UTC)
    [event] = parse(transfer(transactionDate="yesterday"), received)
    assert event.occurred_at == received
