"""The PayPal emulator's webhooks (spec 2.6): registrations, events, signed transmissions with
PayPal's headers, delivery, and the answer to `verify-webhook-signature`.

The emulator signs with its own RSA key; its certificate (issued by its own authority, so no
real deployment trusts it) is served at the `PAYPAL-CERT-URL` it sends.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from payrelay.connectors.paypal.emulator_state import Options, new_id, stamp

CERT_ID = "CERT-360caa42-fca2a594-emulator"
LEAF_NAME = "messageverificationcerts.sandbox.paypal.com"
SUMMARIES = {
    "CHECKOUT.ORDER.APPROVED": "An order has been approved by buyer",
    "CHECKOUT.ORDER.COMPLETED": "Checkout Order Completed",
    "PAYMENT.AUTHORIZATION.CREATED": "A payment authorization was created",
    "PAYMENT.AUTHORIZATION.VOIDED": "A payment authorization was voided",
    "PAYMENT.CAPTURE.COMPLETED": "Payment completed",
    "PAYMENT.CAPTURE.PENDING": "Payment pending",
    "PAYMENT.CAPTURE.DECLINED": "Payment declined",
    "PAYMENT.CAPTURE.REFUNDED": "A capture payment was refunded",
}


@dataclass(frozen=True, slots=True)
class Signer:
    key: rsa.RSAPrivateKey
    chain_pem: bytes  # the leaf, then the emulator's authority
    authority: x509.Certificate
    leaf: x509.Certificate

    def sign(self, message: bytes) -> str:
        return base64.b64encode(
            self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        ).decode()


def _certificate(
    subject: str, key: rsa.RSAPrivateKey, issuer: str, signer: rsa.RSAPrivateKey, ca: bool
) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


@lru_cache(maxsize=1)
def signer() -> Signer:
    """One key pair and certificate per process (RSA key generation is slow)."""
    authority_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = "PayPal emulator authority (not trusted anywhere)"
    authority = _certificate(name, authority_key, name, authority_key, ca=True)
    leaf = _certificate(LEAF_NAME, leaf_key, name, authority_key, ca=False)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, authority))
    return Signer(leaf_key, pem, authority, leaf)


def signed_string(transmission_id: str, time: str, webhook_id: str, raw: bytes) -> bytes:
    crc = binascii.crc32(raw) & 0xFFFFFFFF
    return f"{transmission_id}|{time}|{webhook_id}|{crc}".encode()


@dataclass
class Webhook:
    id: str
    client_id: str
    url: str
    event_types: list[str]

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types

    def view(self, base: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "event_types": [{"name": name} for name in self.event_types],
            "links": [
                {
                    "href": f"{base}/v1/notifications/webhooks/{self.id}",
                    "rel": "self",
                    "method": "GET",
                }
            ],
        }


@dataclass
class Transmission:
    id: str
    event_id: str
    webhook_id: str
    url: str
    time: str
    signature: str
    cert_url: str
    raw: bytes
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "PAYPAL-TRANSMISSION-ID": self.id,
            "PAYPAL-TRANSMISSION-TIME": self.time,
            "PAYPAL-TRANSMISSION-SIG": self.signature,
            "PAYPAL-CERT-URL": self.cert_url,
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        }

    def view(self) -> dict[str, Any]:
        return {
            "transmission_id": self.id,
            "webhook_id": self.webhook_id,
            "url": self.url,
            "headers": self.headers(),
            "raw": self.raw.decode("utf-8"),
            "attempts": list(self.attempts),
        }


class Notifier:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.webhooks: dict[str, Webhook] = {}
        self.events: dict[str, dict[str, Any]] = {}  # event id → the event
        self.transmissions: dict[str, Transmission] = {}
        self.held = False  # scripts hold deliveries back to send them in another order
        self.tasks: set[asyncio.Task[None]] = set()
        if options.webhook_url:
            hook_id = options.webhook_id or new_id()
            self.webhooks[hook_id] = Webhook(hook_id, options.client_id, options.webhook_url, ["*"])

    def register(self, client_id: str, url: str, event_types: list[str]) -> Webhook:
        hook = Webhook(new_id(), client_id, url, event_types)
        self.webhooks[hook.id] = hook
        return hook

    def publish(
        self,
        client_id: str,
        event_type: str,
        resource_type: str,
        resource: Mapping[str, Any],
        base: str,
        moment: float,
    ) -> list[Transmission]:
        """Record the event and one transmission per webhook that wants it (not sent yet)."""
        event_id = f"WH-{new_id()}-{new_id()}"
        event = {
            "id": event_id,
            "event_version": "1.0",
            "create_time": stamp(moment),
            "resource_type": resource_type,
            "resource_version": "2.0",
            "event_type": event_type,
            "summary": SUMMARIES.get(event_type, event_type),
            "resource": dict(resource),
            "links": [
                {
                    "href": f"{base}/v1/notifications/webhooks-events/{event_id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"{base}/v1/notifications/webhooks-events/{event_id}/resend",
                    "rel": "resend",
                    "method": "POST",
                },
            ],
        }
        self.events[event_id] = event
        return [
            self.transmit(hook, event, base, moment)
            for hook in self.webhooks.values()
            if hook.client_id == client_id and hook.wants(event_type)
        ]

    def transmit(
        self, hook: Webhook, event: Mapping[str, Any], base: str, moment: float
    ) -> Transmission:
        raw = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        transmission_id = str(uuid.uuid1())
        time = stamp(moment)
        sent = Transmission(
            id=transmission_id,
            event_id=str(event["id"]),
            webhook_id=hook.id,
            url=hook.url,
            time=time,
            signature=signer().sign(signed_string(transmission_id, time, hook.id, raw)),
            cert_url=f"{base}/v1/notifications/certs/{CERT_ID}",
            raw=raw,
        )
        self.transmissions[sent.id] = sent
        return sent

    async def deliver(self, sent: Transmission, retries: int | None = None) -> None:
        """One attempt now; retries (where configured) in the background."""
        if await self._attempt(sent):
            return
        left = self.options.webhook_retries if retries is None else retries
        if left > 0:
            self.spawn(self._retry(sent, left))

    async def _retry(self, sent: Transmission, retries: int) -> None:
        for _ in range(retries):
            await asyncio.sleep(self.options.webhook_retry_seconds)
            if await self._attempt(sent):
                return

    async def _attempt(self, sent: Transmission) -> bool:
        try:
            async with httpx.AsyncClient(timeout=self.options.webhook_timeout_seconds) as client:
                response = await client.post(sent.url, content=sent.raw, headers=sent.headers())
        except httpx.HTTPError as exc:
            sent.attempts.append({"error": type(exc).__name__})
            return False
        sent.attempts.append({"status": response.status_code})
        return response.is_success

    def spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def of_event(self, event_id: str) -> list[Transmission]:
        return [t for t in self.transmissions.values() if t.event_id == event_id]

    # --- verify-webhook-signature --------------------------------------------------------------

    def verify(self, body: Mapping[str, Any], forced: str) -> str:
        if forced in ("SUCCESS", "FAILURE"):
            return forced
        sent = self.transmissions.get(str(body.get("transmission_id")))
        if sent is None:
            return "FAILURE"
        same = (
            body.get("webhook_id") == sent.webhook_id
            and body.get("transmission_time") == sent.time
            and body.get("cert_url") == sent.cert_url
            and body.get("auth_algo") == "SHA256withRSA"
            and body.get("webhook_event") == json.loads(sent.raw)
        )
        if not same:
            return "FAILURE"
        message = signed_string(sent.id, sent.time, str(body["webhook_id"]), sent.raw)
        try:
            signature = base64.b64decode(str(body.get("transmission_sig")), validate=True)
            signer().key.public_key().verify(
                signature, message, padding.PKCS1v15(), hashes.SHA256()
            )
        except (ValueError, InvalidSignature):
            return "FAILURE"
        return "SUCCESS"


def new_secret() -> str:
    return secrets.token_hex(8)
