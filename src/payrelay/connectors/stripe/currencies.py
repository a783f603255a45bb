"""Stripe's amounts: integers in the currency's smallest unit, by Stripe's rules (spec 1.2).

Stripe's rules differ from ISO 4217 for a few currencies:

- zero-decimal: BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF (MGA has two
  decimals in ISO 4217);
- three-decimal: BHD JOD KWD OMR TND, and the last digit must be 0 (so at most two decimals);
- ISK has no decimals in ISO 4217, but Stripe takes it as two-decimal with `00` at the end
  (5 ISK is `500`): the special case Stripe keeps for backwards compatibility;
- HUF and TWD are two-decimal for payments, as in ISO 4217 (Stripe's special rule for them
  concerns payouts only).

Every other currency uses its ISO 4217 exponent. At most 8 digits are sent.
"""

from __future__ import annotations

from decimal import Decimal

import iso4217

from payrelay.kit.money import UnknownCurrency, currency_exponent

ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
WHOLE_IN_TWO_DECIMALS = frozenset({"ISK"})
MAX_MINOR = 99_999_999  # 8 digits


class AmountNotSendable(ValueError):
    """The amount cannot be said in Stripe's units; `code` is our decline code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def exponent(currency: str) -> int:
    """How many of Stripe's units make one unit of `currency` (as a power of ten)."""
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    if code in WHOLE_IN_TWO_DECIMALS:
        return 2
    iso = currency_exponent(code)
    if iso > 3:  # CLF, UYW: accounting units Stripe does not take
        raise UnknownCurrency(code)
    return iso


def quantum(currency: str) -> Decimal:
    """The smallest amount Stripe can charge in `currency`."""
    code = currency.upper()
    if code in ZERO_DECIMAL or code in WHOLE_IN_TWO_DECIMALS:
        return Decimal(1)
    if code in THREE_DECIMAL:
        return Decimal("0.01")
    return Decimal(1).scaleb(-exponent(code))


def to_minor(amount: Decimal, currency: str) -> int:
    """`amount` in Stripe's units; refuses what would be rounded instead of rounding it."""
    code = currency.upper()
    try:
        digits = exponent(code)
    except UnknownCurrency as exc:
        raise AmountNotSendable("unsupported_currency", f"Stripe does not take {code}") from exc
    if not amount.is_finite() or amount % quantum(code) != 0:
        raise AmountNotSendable(
            "amount_too_precise", f"Stripe takes {code} amounts in steps of {quantum(code)}"
        )
    minor = int(amount.scaleb(digits))
    if minor <= 0:
        raise AmountNotSendable("invalid_amount", "the amount must be greater than zero")
    if minor > MAX_MINOR:
        raise AmountNotSendable("amount_too_large", f"Stripe takes at most 8 digits ({code})")
    return minor


def from_minor(minor: int, currency: str) -> Decimal:
    """Stripe's integer as an amount in `currency`, with ISO 4217's decimals where exact."""
    code = currency.upper()
    value = Decimal(minor).scaleb(-exponent(code))
    unit = Decimal(1).scaleb(-currency_exponent(code))
    exact = value.quantize(unit)
    return exact if exact == value else value


def max_amount(currency: str) -> Decimal:
    """The largest amount 8 digits of Stripe's units can hold, in steps Stripe accepts."""
    step = quantum(currency)
    ceiling = Decimal(MAX_MINOR).scaleb(-exponent(currency))
    return (ceiling // step) * step


def _max_amounts() -> dict[str, Decimal]:
    amounts: dict[str, Decimal] = {}
    for currency in iso4217.Currency:
        try:
            amounts[currency.code] = max_amount(currency.code)
        except UnknownCurrency:
            continue
    return amounts


MAX_AMOUNTS = _max_amounts()
