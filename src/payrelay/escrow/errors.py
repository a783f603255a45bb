"""Errors of the escrow domain, named after what happened."""

from __future__ import annotations

from payrelay.exceptions import Conflict, NotFound, UnprocessableEntity


class NotAMarketplacePayment(UnprocessableEntity):
    """The payment was created without a seller: it has no escrow and never will."""

    code = "not_a_marketplace_payment"


class EscrowNotReleasable(Conflict):
    """Nothing is held that could be paid out now (not captured yet, cancelled, refunded)."""

    code = "escrow_not_releasable"


class EscrowAlreadyReleased(Conflict):
    code = "escrow_already_released"


class SellerNotFound(NotFound):
    """No escrow of this merchant names the seller."""

    code = "seller_not_found"
