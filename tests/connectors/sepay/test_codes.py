"""Payment codes: derived from the payment id, short enough for a VietQR transfer content, and
found again in whatever the bank made of the content (spaces, case, text around it)."""

from __future__ import annotations

import random
import string
import uuid

import pytest

from payrelay.connectors.sepay import transformers
from payrelay.connectors.sepay.transformers import find_code, payment_code, squash
from payrelay.kit.ids import new_id

PAYMENT = uuid.UUID("01a200fa-a127-707f-aa25-20755dab4f2a")


def test_a_code_is_the_prefix_and_twenty_base32_characters_derived_from_the_id():
    code = payment_code("PR", PAYMENT)
    assert code == payment_code("PR", uuid.UUID(str(PAYMENT)))  # a resumed create: same code
    assert code.startswith("PR")
    assert len(code) == 22
    assert set(code[2:]) <= set(transformers.ALPHABET)
    assert not set(code[2:]) & set("ILOU")
    assert payment_code("pr", PAYMENT) == code  # the prefix is uppercase, as SePay stores it


def test_the_longest_code_fits_a_vietqr_transfer_content():
    assert len(payment_code("ABCDE", PAYMENT)) <= transformers.VIETQR_CONTENT_LIMIT


@pytest.mark.parametrize("prefix", ["P", "ABCDEF", "P1", "", "P R", "ĐH"])
def test_a_prefix_is_two_to_five_letters(prefix):
    with pytest.raises(ValueError, match="2 to 5 letters"):
        payment_code(prefix, PAYMENT)


def test_ids_made_one_after_another_never_share_a_code():
    ids = [new_id() for _ in range(50_000)]  # many within the same millisecond
    assert len({payment_code("PR", payment_id) for payment_id in ids}) == len(ids)


def test_random_ids_do_not_share_a_code():
    ids = [uuid.uuid4() for _ in range(50_000)]
    assert len({payment_code("PR", payment_id) for payment_id in ids}) == len(ids)


def test_squash_keeps_uppercase_ascii_letters_and_digits():
    assert squash(" pr 06h-01z.k\nDJ/Đồng ") == "PR06H01ZKDJNG"


@pytest.mark.parametrize(
    "shape",
    [
        lambda code: code,
        lambda code: code.lower(),
        lambda code: f"{code[:9]} {code[9:]}",  # a space inside, as banks do
        lambda code: " ".join(code),
        lambda code: f"{code[:5].lower()}  {code[5:14]}\t{code[14:].swapcase()}",
        lambda code: f"Thanh toan don hang {code} cam on",
        lambda code: f"MBVCB.13818942280.6106{code[:12]} {code[12:]}.CT tu 0531002582398 TRAN",
        lambda code: f"{code}ND.CK nhanh 24/7",  # text glued after it
        lambda code: f"ABCPR{code}",  # the prefix letters just before it
        lambda code: f"{code[:2]}-{code[2:]}",
    ],
)
def test_a_code_is_found_in_what_the_bank_made_of_it(shape):
    code = payment_code("PR", PAYMENT)
    assert find_code("PR", shape(code)) == code


def test_letters_a_customer_typed_for_digits_are_read_as_the_digits():
    code = payment_code("PR", PAYMENT)  # PR06H01ZNAC30PS5H999X6 has zeros and ones
    typed = "PR" + code[2:].replace("0", "O").replace("1", "l")
    assert typed != code
    assert find_code("PR", typed) == code


def test_the_first_valid_code_wins_and_bank_text_that_starts_like_one_is_skipped():
    code = payment_code("PR", PAYMENT)
    content = f"PROMAX PRICE PRESENT PRIVATE PRR {code} PR"
    assert find_code("PR", content) == code


def test_a_changed_or_cut_code_is_not_a_code():
    code = payment_code("PR", PAYMENT)
    changed = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert find_code("PR", changed) is None
    assert find_code("PR", code[:-1]) is None
    assert find_code("PR", code[1:]) is None
    assert find_code("DH", code) is None  # another prefix


def test_texts_are_tried_in_order_and_a_truncated_sepay_code_falls_back_to_the_content():
    code = payment_code("PR", PAYMENT)
    other = payment_code("PR", new_id())
    assert find_code("PR", code, f"pay {other}") == code
    assert find_code("PR", code[:12], None, f"BankAPINotify {code}") == code  # SePay's template
    assert find_code("PR", None, "", "no code here") is None


def test_random_bank_text_is_almost_never_taken_for_a_code():
    generator = random.Random(20261122)
    alphabet = string.ascii_uppercase + string.digits
    found = sum(
        find_code("PR", "PR" + "".join(generator.choices(alphabet, k=20))) is not None
        for _ in range(20_000)
    )
    assert found <= 3  # 15 check bits: about one in 30,000


def test_created_at_reads_the_uuid7_timestamp():
    payment_id = new_id()
    created = transformers.created_at(payment_id)
    assert created is not None
    assert abs(created.timestamp() * 1000 - (payment_id.int >> 80)) < 1
    assert transformers.created_at(uuid.uuid4()) is None
