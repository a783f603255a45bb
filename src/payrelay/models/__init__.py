"""ORM models, one per file. Relationships are not declared: loading is always written out."""

from payrelay.models.api_key import ApiKey
from payrelay.models.archive import ARCHIVES
from payrelay.models.base import Model
from payrelay.models.callback_attempt import CallbackAttempt
from payrelay.models.escrow_payment import EscrowPayment
from payrelay.models.idempotency_key import IdempotencyKey
from payrelay.models.merchant import Merchant
from payrelay.models.payment_callback import PaymentCallback
from payrelay.models.payment_gateway import PaymentGateway
from payrelay.models.payment_log import PaymentLog
from payrelay.models.payment_operation import PaymentOperation
from payrelay.models.payment_request import PaymentRequest
from payrelay.models.payment_statistics import PaymentStatistics
from payrelay.models.payment_statistics_delta import PaymentStatisticsDelta
from payrelay.models.payment_transaction import PaymentTransaction
from payrelay.models.payment_webhook import PaymentWebhook
from payrelay.models.sandbox_transaction import SandboxTransaction

__all__ = [
    "ARCHIVES",
    "ApiKey",
    "CallbackAttempt",
    "EscrowPayment",
    "IdempotencyKey",
    "Merchant",
    "Model",
    "PaymentCallback",
    "PaymentGateway",
    "PaymentLog",
    "PaymentOperation",
    "PaymentRequest",
    "PaymentStatistics",
    "PaymentStatisticsDelta",
    "PaymentTransaction",
    "PaymentWebhook",
    "SandboxTransaction",
]
