"""The Stripe emulator's wire format: form bodies with bracketed keys, ids, and Stripe's error
objects (spec 1.1, 1.3). No HTTP framework here."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable, Mapping
from typing import Any

DOCS = "https://stripe.com/docs/error-codes"
_ALPHABET = string.ascii_letters + string.digits
_KEY_PART = re.compile(r"\[([^\[\]]*)\]")


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def mask_key(key: str) -> str:
    """How Stripe shows a key it refuses: the prefix, stars, the last four characters."""
    prefix, _, rest = key.rpartition("_")
    shown = rest[-4:] if len(rest) > 4 else ""
    head = f"{prefix}_" if prefix else ""
    return head + "*" * max(len(rest) - len(shown), 0) + shown


class StripeError(Exception):
    """An error answer in Stripe's shape. `saved`: whether an idempotency key keeps it (Stripe
    keeps answers once execution began, not failed validation)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        saved: bool = False,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.saved = saved
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{DOCS}/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        if request_id is not None and self.status != 401:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        error.update(self.extra)
        return {"error": error}


def missing(param: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def unknown_parameter(param: str) -> StripeError:
    return StripeError(
        400,
        f"Received unknown parameter: {param}",
        code="parameter_unknown",
        param=param,
    )


def invalid(param: str, message: str, code: str = "parameter_invalid_empty") -> StripeError:
    return StripeError(400, message, code=code, param=param)


def no_such(kind: str, object_id: str, param: str) -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


# --- form bodies ---------------------------------------------------------------------------


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """`a[b][0][c]=v` pairs as nested dicts; indexed (and `[]`) keys become lists."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        head, _, rest = raw_key.partition("[")
        parts = [head, *_KEY_PART.findall("[" + rest)] if rest else [head]
        if not head:
            raise invalid(raw_key, f"Invalid parameter name: {raw_key}", "parameter_unknown")
        node: dict[str, Any] = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if last:
                if part == "":
                    node.setdefault("\0list", []).append(value)
                else:
                    node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise invalid(raw_key, f"Invalid value for {raw_key}", "parameter_invalid")
                node = child
    decoded = _lists(root)
    if not isinstance(decoded, dict):
        raise invalid("0", "Invalid parameter names", "parameter_unknown")
    return decoded


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if set(node) == {"\0list"}:
        return list(node["\0list"])
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


def canonical(params: Any) -> Any:
    """Parameters in a form that compares equal for the same request."""
    if isinstance(params, dict):
        return tuple(sorted((key, canonical(value)) for key, value in params.items()))
    if isinstance(params, list):
        return tuple(canonical(item) for item in params)
    return params


# --- typed reads ---------------------------------------------------------------------------


def only(params: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    known = set(allowed)
    for key in params:
        if key not in known:
            raise unknown_parameter(f"{prefix}[{key}]" if prefix else key)


def text(params: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return None
    if not isinstance(value, str):
        raise invalid(name, f"Invalid string: {name}", "parameter_invalid_string")
    return value


def integer(
    params: Mapping[str, Any], name: str, *, required: bool = False, label: str | None = None
) -> int | None:
    label = label or name
    value = text(params, name, required=required)
    if value is None:
        return None
    if not re.fullmatch(r"-?[0-9]+", value):
        raise invalid(label, f"Invalid integer: {value}", "parameter_invalid_integer")
    return int(value)


def boolean(params: Mapping[str, Any], name: str) -> bool | None:
    value = text(params, name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise invalid(name, f"Invalid boolean: {value}", "parameter_invalid_boolean")
    return value == "true"


def mapping(params: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid(name, f"Invalid object: {name}", "parameter_invalid")
    return value


def strings(params: Mapping[str, Any], name: str) -> list[str] | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid(name, f"Invalid array: {name}", "parameter_invalid")
    return list(value)


def metadata(params: Mapping[str, Any], name: str = "metadata") -> dict[str, str] | None:
    """Stripe's metadata rules: at most 50 keys, keys ≤ 40 characters, values ≤ 500; an empty
    value unsets a key (None: not given)."""
    value = params.get(name)
    if value is None:
        return None
    if value == "":
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid(name, "Invalid metadata: must be a hash of strings", "parameter_invalid")
    if len(value) > 50:
        raise invalid(name, "Metadata can have at most 50 keys.", "parameter_invalid")
    for key, item in value.items():
        if len(key) > 40:
            raise invalid(
                f"{name}[{key}]", "Metadata keys can have up to 40 characters.", "invalid_metadata"
            )
        if len(item) > 500:
            raise invalid(
                f"{name}[{key}]",
                "Metadata values can have up to 500 characters.",
                "invalid_metadata",
            )
    return dict(value)


def merged(current: Mapping[str, str], update: Mapping[str, str] | None) -> dict[str, str]:
    if update is None:
        return dict(current)
    if not update:  # `metadata=` unsets every key
        return {}
    result = dict(current)
    for key, value in update.items():
        if value == "":
            result.pop(key, None)
        else:
            result[key] = value
    return result
