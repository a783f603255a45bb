"""URL checks for addresses merchants give us (callback and return URLs)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class UrlRejected(ValueError):
    pass


def validate_http_url(url: str) -> str:
    if len(url) > MAX_URL_LENGTH:
        raise UrlRejected(f"URL longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UrlRejected("only http and https URLs are accepted")
    if not parts.hostname:
        raise UrlRejected("URL has no host")
    if parts.username or parts.password:
        raise UrlRejected("URL must not carry credentials")
    return url


def is_private_host(host: str) -> bool:
    """Loopback, private, link-local or otherwise non-public: a literal address or a local name.

    Names are checked again after DNS resolution when a callback is delivered.
    """
    host = host.strip("[]").lower()
    if host in _LOCAL_NAMES or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def validate_callback_url(url: str, *, allow_private: bool) -> str:
    validate_http_url(url)
    host = urlsplit(url).hostname or ""
    if not allow_private and is_private_host(host):
        raise UrlRejected(
            "callback URLs on loopback or private networks are refused "
            "(set PAYRELAY_ALLOW_PRIVATE_CALLBACKS=true for local development)"
        )
    return url


async def resolves_to_private(host: str) -> bool:
    """True when `host` is, or resolves to, a non-public address (checked at delivery time, so a
    name cannot be pointed at an internal service after the URL was accepted)."""
    import asyncio
    import socket

    if is_private_host(host):
        return True
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False  # unresolvable: the delivery fails on its own and is retried
    return any(is_private_host(str(info[4][0])) for info in infos)
