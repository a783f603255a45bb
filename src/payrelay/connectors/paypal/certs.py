"""Offline webhook verification with PayPal's certificate (spec 2.6), for accounts configured
with `webhook_verification: certificate`.

The certificate comes from the `PAYPAL-CERT-URL` header, so the URL itself is untrusted: only
HTTPS hosts under paypal.com are fetched, the chain must lead to a public root authority, the
leaf's common name must end with `.paypal.com`, and every certificate must be valid now. The
signature is RSA PKCS#1 v1.5 over `<transmission id>|<time>|<webhook id>|<crc32 of the body>`.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import warnings
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import certifi
import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from payrelay.connectors.base import IncomingWebhook, WebhookRejected
from payrelay.connectors.paypal.webhooks import Transmission

PAYPAL_DOMAIN = "paypal.com"
ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256withRSA": hashes.SHA256,
    "SHA1withRSA": hashes.SHA1,  # mapped by PayPal's own SDK too
}
MAX_CERT_BYTES = 64 * 1024
_chains: dict[str, list[x509.Certificate]] = {}  # by URL: PayPal's certificates rarely change
MAX_CACHED = 16


def signed_string(sent: Transmission, webhook_id: str, body: bytes) -> bytes:
    crc = binascii.crc32(body) & 0xFFFFFFFF
    return f"{sent.transmission_id}|{sent.transmission_time}|{webhook_id}|{crc}".encode()


def cert_url_allowed(url: str) -> bool:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return False
    host = parsed.host.lower()
    return (
        parsed.scheme == "https"
        and not parsed.userinfo
        and parsed.port in (None, 443)
        and (host == PAYPAL_DOMAIN or host.endswith("." + PAYPAL_DOMAIN))
    )


@lru_cache(maxsize=1)
def trust_anchors() -> tuple[x509.Certificate, ...]:
    """The public root authorities (certifi's bundle, the one httpx trusts)."""
    with warnings.catch_warnings():  # a few old roots have serial numbers RFC 5280 forbids
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return tuple(x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes()))


def check_chain(
    chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], now: datetime
) -> None:
    if not chain:
        raise WebhookRejected("PayPal's certificate URL served no certificate")
    for cert in chain:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise WebhookRejected("a certificate of the chain is not valid now")
    names = chain[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    if not common_name.lower().endswith("." + PAYPAL_DOMAIN):
        raise WebhookRejected(f"the certificate is not PayPal's ({common_name!r})")
    for child, parent in itertools.pairwise(chain):
        if not _issued_by(child, parent):
            raise WebhookRejected("the certificate chain is broken")
    last = chain[-1]
    if last in anchors:
        return
    if not any(anchor.subject == last.issuer and _issued_by(last, anchor) for anchor in anchors):
        raise WebhookRejected("the certificate does not lead to a trusted authority")


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_signature(
    leaf: x509.Certificate, sent: Transmission, webhook_id: str, body: bytes
) -> None:
    algorithm = ALGORITHMS.get(sent.auth_algo)
    if algorithm is None:
        raise WebhookRejected(f"unsupported PAYPAL-AUTH-ALGO {sent.auth_algo!r}")
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookRejected("PayPal's certificate does not hold an RSA key")
    try:
        signature = base64.b64decode(sent.transmission_sig, validate=True)
        key.verify(
            signature, signed_string(sent, webhook_id, body), padding.PKCS1v15(), algorithm()
        )
    except (binascii.Error, ValueError, InvalidSignature):
        raise WebhookRejected("the webhook signature does not match") from None


async def fetch_chain(http: httpx.AsyncClient, url: str) -> list[x509.Certificate]:
    cached = _chains.get(url)
    if cached is not None:
        return cached
    try:
        response = await http.get(url, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise WebhookRejected(f"unverifiable: the certificate could not be fetched: {exc}") from exc
    if response.status_code != 200 or len(response.content) > MAX_CERT_BYTES:
        raise WebhookRejected(f"unverifiable: the certificate URL answered {response.status_code}")
    try:
        chain = x509.load_pem_x509_certificates(response.content)
    except ValueError as exc:
        raise WebhookRejected("the certificate URL served no PEM certificate") from exc
    if len(_chains) >= MAX_CACHED:
        _chains.clear()
    _chains[url] = chain
    return chain


async def verify(
    http: httpx.AsyncClient,
    sent: Transmission,
    webhook_id: str,
    webhook: IncomingWebhook,
    anchors: Sequence[x509.Certificate] | None = None,
) -> None:
    if not cert_url_allowed(sent.cert_url):
        raise WebhookRejected("PAYPAL-CERT-URL is not an https URL on paypal.com")
    if sent.auth_algo not in ALGORITHMS:
        raise WebhookRejected(f"unsupported PAYPAL-AUTH-ALGO {sent.auth_algo!r}")
    chain = await fetch_chain(http, sent.cert_url)
    check_chain(chain, trust_anchors() if anchors is None else anchors, webhook.received_at)
    check_signature(chain[0], sent, webhook_id, webhook.body)
