import pytest

from payrelay.kit.redact import MASK, is_sensitive_key, redact


@pytest.mark.parametrize(
    "key",
    [
        "Authorization",
        "api_key",
        "X-Api-Key",
        "secret_key",
        "webhook_secret",
        "client_secret",
        "access_token",
        "Stripe-Signature",
        "password",
        "config",
        "card_number",
        "cvc",
    ],
)
def test_secret_keys_are_masked(key):
    assert is_sensitive_key(key)
    assert redact({key: "value"}) == {key: MASK}


@pytest.mark.parametrize(
    "key", ["authorization_expires_at", "token_type", "amount", "company", "status", "key_id"]
)
def test_ordinary_keys_are_kept(key):
    assert not is_sensitive_key(key)


def test_nested_values_and_inline_secrets_are_scrubbed():
    data = {
        "outer": {"secret": "s", "list": [{"api_key": "k"}, "Bearer abc.def"]},
        "note": "key pr_live_abcDEF123 and whsec_AAAA==",
    }
    assert redact(data) == {
        "outer": {"secret": MASK, "list": [{"api_key": MASK}, MASK]},
        "note": f"key {MASK} and {MASK}",
    }
