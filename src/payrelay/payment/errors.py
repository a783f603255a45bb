"""Errors of the payment domain, named after what happened."""

from __future__ import annotations

from payrelay.exceptions import Conflict, NotFound, UnprocessableEntity


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class OperationInProgress(Conflict):
    code = "operation_in_progress"


class ActivePaymentExists(Conflict):
    code = "active_payment_exists"


class DuplicateCharge(Conflict):
    code = "duplicate_charge"


class InvalidAmount(UnprocessableEntity):
    code = "invalid_amount"


class AmountTooPrecise(UnprocessableEntity):
    code = "amount_too_precise"


class UnsupportedCurrency(UnprocessableEntity):
    code = "unsupported_currency"


class UnknownGateway(UnprocessableEntity):
    code = "unknown_gateway"


class GatewayNotConfigured(UnprocessableEntity):
    code = "gateway_not_configured"


class NotSupportedByGateway(UnprocessableEntity):
    code = "unsupported_by_gateway"


class AmountOutOfRange(UnprocessableEntity):
    code = "amount_out_of_range"


class CaptureExceedsAuthorized(UnprocessableEntity):
    code = "capture_exceeds_authorized"


class RefundExceedsCaptured(UnprocessableEntity):
    code = "refund_exceeds_captured"


class CallbackUrlNotAllowed(UnprocessableEntity):
    code = "callback_url_not_allowed"


class ListingRequired(UnprocessableEntity):
    """A marketplace payment (one with a seller) must say which listing is sold."""

    code = "listing_required"
