"""Exact money: ISO 4217 minor units, quantization and the commission split. No floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache

import iso4217


class UnknownCurrency(ValueError):
    """The code is not an ISO 4217 currency with a minor unit (funds and metals are excluded)."""


class TooPrecise(ValueError):
    """The amount has more decimal digits than the currency's minor unit allows."""


@lru_cache(maxsize=512)
def currency_exponent(code: str) -> int:
    """Digits after the decimal point for `code` (VND 0, USD 2, KWD 3)."""
    try:
        currency = iso4217.Currency(code)
    except ValueError as exc:
        raise UnknownCurrency(code) from exc
    exponent = currency.exponent
    if exponent is None:
        raise UnknownCurrency(code)
    return int(exponent)


def is_currency(code: str) -> bool:
    try:
        currency_exponent(code)
    except UnknownCurrency:
        return False
    return True


def minor_unit(code: str) -> Decimal:
    """The smallest amount of `code`: Decimal('0.01') for USD, Decimal('1') for VND."""
    return Decimal(1).scaleb(-currency_exponent(code))


def quantize(amount: Decimal, code: str) -> Decimal:
    """`amount` expressed in exactly the currency's minor unit; raises if digits would be lost."""
    unit = minor_unit(code)
    try:
        quantized = amount.quantize(unit)
    except InvalidOperation as exc:
        raise TooPrecise(str(amount)) from exc
    if quantized != amount:
        raise TooPrecise(str(amount))
    return quantized


def to_minor_units(amount: Decimal, code: str) -> int:
    """Integer count of minor units (what Stripe expects)."""
    return int(quantize(amount, code).scaleb(currency_exponent(code)))


@dataclass(frozen=True, slots=True)
class CommissionSplit:
    commission: Decimal
    seller_amount: Decimal


def split_commission(amount: Decimal, rate: Decimal, code: str) -> CommissionSplit:
    """Commission rounded half-even to the minor unit; the seller gets exactly the rest."""
    amount = quantize(amount, code)
    commission = (amount * rate).quantize(minor_unit(code), rounding=ROUND_HALF_EVEN)
    return CommissionSplit(commission=commission, seller_amount=amount - commission)


def commission_of_net(
    net: Decimal, amount: Decimal, commission: Decimal, code: str
) -> CommissionSplit:
    """The split of `net` (captured minus refunded) of a payment created for `amount` with
    `commission`: the commission scales with the money kept, rounded half-even to the minor
    unit, and the seller gets exactly the rest. The whole amount keeps the creation's split;
    nothing kept means no commission. Monotonic: less money kept never raises either part, so
    a refund never increases the seller's share or the commission."""
    if not (Decimal(0) <= net <= amount) or not (Decimal(0) <= commission <= amount):
        raise ValueError(f"net {net} and commission {commission} must lie within 0..{amount}")
    if net == amount:
        part = commission
    elif amount == 0:
        part = Decimal(0)
    else:
        part = (commission * net / amount).quantize(minor_unit(code), rounding=ROUND_HALF_EVEN)
    return CommissionSplit(commission=part, seller_amount=net - part)


def format_amount(amount: Decimal, code: str) -> str:
    """The API's string form: exactly the minor unit's digits, no exponent."""
    return f"{quantize(amount, code):f}"
