"""MoMo's `resultCode` table (spec A8), each code sorted into what it means for us."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    SUCCESS = "success"  # 0: paid, or the operation succeeded
    AUTHORIZED = "authorized"  # 9000: money held (two-step flow)
    PENDING = "pending"  # waiting for the user or being processed
    ERROR = "error"  # the request was refused (merchant or system error); nothing happened
    FAILED = "failed"  # the payment failed for good
    EXPIRED = "expired"  # the pay link expired unpaid
    CANCELLED = "cancelled"  # an authorization was released
    REFUND_FAILED = "refund_failed"  # about a refund, not about the payment


@dataclass(frozen=True, slots=True)
class ResultCode:
    code: int
    kind: Kind
    reason: str  # our decline code ("" where there is nothing to decline)
    description: str

    @property
    def final(self) -> bool:
        """A final result is replayed as is for the same requestId; any other gives 40."""
        return self.kind not in (Kind.AUTHORIZED, Kind.PENDING, Kind.ERROR)


_TABLE = (
    ResultCode(0, Kind.SUCCESS, "", "Successful."),
    ResultCode(1000, Kind.PENDING, "", "Transaction initiated, waiting for the user to confirm."),
    ResultCode(7000, Kind.PENDING, "", "Transaction is being processed."),
    ResultCode(7002, Kind.PENDING, "", "Transaction is being processed by the provider."),
    ResultCode(8000, Kind.PENDING, "", "Waiting for the user to confirm again."),
    ResultCode(9000, Kind.AUTHORIZED, "", "Transaction authorized; confirm or cancel it."),
    ResultCode(10, Kind.ERROR, "gateway_maintenance", "System is under maintenance."),
    ResultCode(11, Kind.ERROR, "access_denied", "Access denied."),
    ResultCode(12, Kind.ERROR, "unsupported_api_version", "Unsupported API version."),
    ResultCode(13, Kind.ERROR, "merchant_authentication_failed", "Merchant authentication failed."),
    ResultCode(20, Kind.ERROR, "bad_request", "Bad format request."),
    ResultCode(21, Kind.ERROR, "invalid_amount", "Invalid transaction amount."),
    ResultCode(22, Kind.ERROR, "amount_out_of_range", "Transaction amount is out of range."),
    ResultCode(40, Kind.ERROR, "duplicate_request", "Duplicated requestId."),
    ResultCode(41, Kind.ERROR, "duplicate_order", "Duplicated orderId."),
    ResultCode(42, Kind.ERROR, "unknown_order", "Invalid orderId or orderId is not found."),
    ResultCode(43, Kind.ERROR, "transaction_in_progress", "A similar transaction is in progress."),
    ResultCode(45, Kind.ERROR, "duplicate_item", "Duplicated ItemId."),
    ResultCode(47, Kind.ERROR, "inapplicable", "Inapplicable information."),
    ResultCode(98, Kind.FAILED, "qr_not_generated", "QR code was not generated."),
    ResultCode(99, Kind.FAILED, "unknown_error", "Unknown error."),
    ResultCode(1001, Kind.FAILED, "insufficient_funds", "Insufficient funds."),
    ResultCode(1002, Kind.FAILED, "issuer_declined", "Rejected by the issuer."),
    ResultCode(1003, Kind.CANCELLED, "authorization_cancelled", "Cancelled after authorization."),
    ResultCode(1004, Kind.FAILED, "limit_exceeded", "Daily or monthly limit exceeded."),
    ResultCode(1005, Kind.EXPIRED, "payment_expired", "The payment URL or QR code expired."),
    ResultCode(1006, Kind.FAILED, "customer_cancelled", "The user denied the payment."),
    ResultCode(1007, Kind.FAILED, "account_inactive", "Account inactive or not found."),
    ResultCode(1017, Kind.CANCELLED, "cancelled_by_merchant", "Cancelled by the merchant."),
    ResultCode(1026, Kind.FAILED, "promotion_restricted", "Restricted by promotion rules."),
    ResultCode(1080, Kind.REFUND_FAILED, "refund_failed", "Refund failed; retry in about 1 h."),
    ResultCode(1081, Kind.REFUND_FAILED, "refund_rejected", "Already refunded or too much."),
    ResultCode(1088, Kind.REFUND_FAILED, "not_refundable", "The transaction is not refundable."),
    ResultCode(2019, Kind.FAILED, "invalid_order_group", "Invalid orderGroupId."),
    ResultCode(4001, Kind.FAILED, "account_restricted", "The user's account is restricted."),
    ResultCode(4002, Kind.FAILED, "account_not_verified", "The user's account is not verified."),
    ResultCode(4100, Kind.FAILED, "login_failed", "The user failed to log in."),
)

RESULT_CODES: dict[int, ResultCode] = {entry.code: entry for entry in _TABLE}


def lookup(code: int) -> ResultCode | None:
    return RESULT_CODES.get(code)
