"""IXOPAY's consolidated `errorCode`s (spec 3.7), each with our decline reason and a clear message.

The gateway's own `errorMessage` varies by circumstance (IXOPAY says to rely on the code): the
reason and message here are what the merchant sees; the gateway's text goes to `gateway_message`.
"""

from __future__ import annotations

from dataclasses import dataclass

DUPLICATE_TRANSACTION_ID = 3004
TRANSACTION_NOT_FOUND = 8001  # status API (IXOPAY's published example; the 8000 group is [U])
TOO_MANY_REQUESTS = 1009  # status API rate limit, answered with HTTP 429


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: int
    reason: str
    message: str


_TABLE = (
    # general and validation errors: the request was refused, nothing happened
    ErrorCode(1000, "request_failed", "The gateway could not process the request"),
    ErrorCode(1001, "invalid_gateway_response", "An upstream system answered unexpectedly"),
    ErrorCode(1002, "invalid_request", "The gateway found the request data invalid"),
    ErrorCode(1003, "processing_error", "The gateway could not process the payment"),
    ErrorCode(1004, "invalid_signature", "The gateway refused the request signature"),
    ErrorCode(1005, "invalid_request", "The gateway could not read the request"),
    ErrorCode(1006, "operation_not_allowed", "The operation is not allowed in this state"),
    ErrorCode(1007, "gateway_misconfigured", "The gateway account is not configured for this"),
    ErrorCode(1008, "gateway_error", "The gateway had an unexpected system error"),
    ErrorCode(1009, "rate_limited", "Too many requests to the gateway"),
    ErrorCode(1010, "gateway_maintenance", "The gateway is under maintenance"),
    ErrorCode(9999, "unknown_error", "The gateway reported an unknown error"),
    # payment errors: the customer's payment was declined
    ErrorCode(2001, "account_closed", "The payment account was closed"),
    ErrorCode(2002, "customer_cancelled", "The customer cancelled the payment"),
    ErrorCode(2003, "card_declined", "The payment was declined"),
    ErrorCode(2004, "limit_exceeded", "A payment limit was exceeded"),
    ErrorCode(2005, "transaction_expired", "The payment expired before it was completed"),
    ErrorCode(2006, "insufficient_funds", "Insufficient funds"),
    ErrorCode(2007, "incorrect_payment_details", "The payment details are incorrect"),
    ErrorCode(2008, "invalid_card", "The card is invalid"),
    ErrorCode(2009, "expired_card", "The card has expired"),
    ErrorCode(2010, "fraudulent_card", "The card was reported as fraudulent"),
    ErrorCode(2011, "unsupported_card", "The card type is not supported"),
    ErrorCode(2012, "transaction_cancelled", "The payment was cancelled"),
    ErrorCode(2013, "risk_check_blocked", "The payment was blocked by a risk check"),
    ErrorCode(2014, "pickup_card", "The issuer asked to retain the card"),
    ErrorCode(2015, "lost_card", "The card was reported lost"),
    ErrorCode(2016, "stolen_card", "The card was reported stolen"),
    ErrorCode(2017, "invalid_iban", "The IBAN is invalid"),
    ErrorCode(2018, "invalid_bic", "The BIC is invalid"),
    ErrorCode(2019, "invalid_customer_data", "The customer data is invalid"),
    ErrorCode(2020, "cvv_required", "The card security code is required"),
    ErrorCode(2021, "authentication_failed", "3-D Secure verification failed"),
    # network errors between the gateway and the acquirer
    ErrorCode(3001, "gateway_timeout", "The acquirer did not answer in time"),
    ErrorCode(3002, "not_allowed", "The acquirer does not allow this transaction"),
    ErrorCode(3003, "acquirer_unavailable", "The acquirer is temporarily unavailable"),
    ErrorCode(3004, "duplicate_transaction", "The transaction id was used before"),
    ErrorCode(3005, "communication_error", "Communication with the acquirer failed"),
    # post-processing
    ErrorCode(4001, "chargeback_reverted", "A chargeback was reverted"),
    ErrorCode(4002, "payment_disputed", "The payment is disputed"),
    # status API
    ErrorCode(8001, "transaction_not_found", "The gateway has no such transaction"),
)

ERROR_CODES: dict[int, ErrorCode] = {entry.code: entry for entry in _TABLE}


def lookup(code: int) -> ErrorCode:
    entry = ERROR_CODES.get(code)
    if entry is not None:
        return entry
    if 7001 <= code <= 7070:
        return ErrorCode(code, "schedule_error", "The payment schedule could not be processed")
    return ErrorCode(code, f"allsecure_{code}", f"The gateway reported error {code}")
