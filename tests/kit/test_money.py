from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payrelay.kit import money

EXPONENTS = {"VND": 0, "JPY": 0, "RSD": 2, "USD": 2, "EUR": 2, "KWD": 3, "BHD": 3, "CLF": 4}


@pytest.mark.parametrize(("code", "exponent"), EXPONENTS.items())
def test_iso_4217_minor_units(code, exponent):
    assert money.currency_exponent(code) == exponent


@pytest.mark.parametrize("code", ["XYZ", "XAU", "XXX", "usd", ""])
def test_codes_without_a_minor_unit_are_not_currencies(code):
    assert not money.is_currency(code)
    with pytest.raises(money.UnknownCurrency):
        money.currency_exponent(code)


@pytest.mark.parametrize(
    ("amount", "code", "expected"),
    [("150000", "VND", "150000"), ("10.5", "USD", "10.50"), ("1.25", "KWD", "1.250")],
)
def test_quantize_pads_to_the_minor_unit(amount, code, expected):
    assert money.format_amount(Decimal(amount), code) == expected


@pytest.mark.parametrize(("amount", "code"), [("1.5", "VND"), ("1.005", "USD"), ("0.0001", "KWD")])
def test_quantize_refuses_to_lose_digits(amount, code):
    with pytest.raises(money.TooPrecise):
        money.quantize(Decimal(amount), code)


def test_trailing_zeros_are_not_extra_precision():
    assert money.quantize(Decimal("10.500"), "USD") == Decimal("10.50")
    assert money.quantize(Decimal("150000.00"), "VND") == Decimal("150000")


def test_commission_rounds_half_even():
    # 0.05 × 10.50 = 0.525 → 0.52 (half-even), not 0.53.
    split = money.split_commission(Decimal("10.50"), Decimal("0.05"), "USD")
    assert split.commission == Decimal("0.52")
    assert split.seller_amount == Decimal("9.98")
    # 0.05 × 10.70 = 0.535 → 0.54.
    assert money.split_commission(Decimal("10.70"), Decimal("0.05"), "USD").commission == Decimal(
        "0.54"
    )


def test_minor_units_for_stripe():
    assert money.to_minor_units(Decimal("10.50"), "USD") == 1050
    assert money.to_minor_units(Decimal("150000"), "VND") == 150000
    assert money.to_minor_units(Decimal("1.250"), "KWD") == 1250


@given(
    code=st.sampled_from(sorted(EXPONENTS)),
    minor=st.integers(min_value=1, max_value=10**14),
    rate=st.decimals(min_value=0, max_value="0.999999", places=6),
)
def test_commission_plus_seller_amount_is_always_the_amount(code, minor, rate):
    amount = Decimal(minor).scaleb(-money.currency_exponent(code))
    split = money.split_commission(amount, rate, code)
    assert split.commission + split.seller_amount == amount
    assert split.commission >= 0
    assert split.seller_amount >= 0
    # Both parts are exact in the currency's minor unit.
    assert money.quantize(split.commission, code) == split.commission
    assert money.quantize(split.seller_amount, code) == split.seller_amount


@pytest.mark.parametrize(
    ("net", "amount", "commission", "code", "expected"),
    [
        ("1250.50", "1250.50", "62.53", "RSD", ("62.53", "1187.97")),  # all kept: creation split
        ("0.00", "1250.50", "62.53", "RSD", ("0.00", "0.00")),  # all refunded
        ("1000.00", "1250.50", "62.53", "RSD", ("50.00", "950.00")),  # 62.53 × 1000 / 1250.50
        ("100000", "150000", "7500", "VND", ("5000", "95000")),
        ("1", "3", "1", "VND", ("0", "1")),  # 1/3 rounds half-even to 0
    ],
)
def test_commission_of_net_scales_with_the_money_kept(net, amount, commission, code, expected):
    split = money.commission_of_net(Decimal(net), Decimal(amount), Decimal(commission), code)
    assert (str(split.commission), str(split.seller_amount)) == expected


@given(
    amount=st.integers(min_value=1, max_value=10**9),
    rate=st.decimals(min_value=0, max_value="0.999999", places=6),
    data=st.data(),
)
def test_commission_of_net_adds_up_and_never_grows_as_money_leaves(amount, rate, data):
    total = Decimal(amount) / 100
    creation = money.split_commission(total, rate, "RSD")
    higher = Decimal(data.draw(st.integers(min_value=0, max_value=amount))) / 100
    lower = Decimal(data.draw(st.integers(min_value=0, max_value=int(higher * 100)))) / 100
    kept = money.commission_of_net(higher, total, creation.commission, "RSD")
    less = money.commission_of_net(lower, total, creation.commission, "RSD")
    assert kept.commission + kept.seller_amount == higher
    assert less.commission + less.seller_amount == lower
    assert less.commission <= kept.commission
    assert less.seller_amount <= kept.seller_amount
    assert money.commission_of_net(total, total, creation.commission, "RSD") == creation


def test_commission_of_net_refuses_amounts_out_of_range():
    with pytest.raises(ValueError, match="must lie within"):
        money.commission_of_net(Decimal("11"), Decimal("10"), Decimal("1"), "USD")
