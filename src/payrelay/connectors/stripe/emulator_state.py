"""The Stripe emulator's memory: options, accounts (one per secret key), idempotency keys,
events and their deliveries. The payment rules are in `emulator_payments`.

Facts the spec marks unconfirmed are `Options`, defaulting to what the spec documents.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from payrelay.connectors.stripe import emulator_wire as wire
from payrelay.connectors.stripe.emulator_wire import StripeError, new_id

API_VERSION = "2026-06-24.dahlia"  # what the spec's SDK pins; any Stripe-Version is accepted


@dataclass(frozen=True, slots=True)
class Options:
    """`--option KEY=VALUE` settings; [?] marks what the spec leaves unconfirmed."""

    # Comma-separated; each key is its own account.
    secret_keys: str = "sk_test_emulator"  # noqa: S105 (a test-mode key of the emulator)
    webhook_url: str = ""  # an endpoint for the first account, for every event
    webhook_secret: str = "whsec_emulator"  # noqa: S105 (that endpoint's signing secret)
    public_url: str = ""  # base of the hosted pages' URLs (default: as the request came in)
    api_version: str = API_VERSION  # `api_version` of events
    idempotency_ttl_seconds: float = 86_400.0  # keys are kept at least 24 h
    idempotent_replayed_header: bool = True  # [?] `Idempotent-Replayed: true` on replays
    idempotency_mismatch_status: int = 400  # [?] same key, other parameters
    in_flight_status: int = 409  # [?] same key while the first request still runs
    session_ttl_seconds: float = 86_400.0  # Checkout Sessions expire after 24 h by default
    authorization_ttl_seconds: float = 604_800.0  # uncaptured intents cancelled after 7 days
    authorization_expiry_reason: str = "automatic"  # [?] cancellation_reason Stripe sets then
    refund_status: str = "succeeded"  # status of new card refunds: succeeded | pending
    min_usd_cents: int = 50  # "0.50 USD equivalent": checked for USD only
    webhook_retries: int = 3  # [?] test mode: "3 times over a few hours"
    webhook_retry_seconds: float = 3_600.0  # [?] first retry delay, doubling
    webhook_timeout_seconds: float = 30.0  # [?] commonly cited deadline
    hang_seconds: float = 30.0  # longest a `hang` fault holds an answer back

    @classmethod
    def parse(cls, given: Mapping[str, str]) -> Options:
        known = {item.name for item in fields(cls)}
        unknown = set(given) - known
        if unknown:
            raise ValueError(f"unknown stripe emulator options: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        defaults = cls()
        for name, raw in given.items():
            kind = type(getattr(defaults, name))
            try:
                if kind is bool:
                    if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(raw)
                    values[name] = raw.lower() in ("true", "1", "yes")
                else:
                    values[name] = kind(raw)
            except ValueError:
                raise ValueError(f"stripe emulator option {name}: bad value {raw!r}") from None
        options = cls(**values)
        if not options.secret_key_list():
            raise ValueError("stripe emulator option secret_keys: at least one key")
        if options.refund_status not in ("succeeded", "pending"):
            raise ValueError("stripe emulator option refund_status: succeeded or pending")
        return options

    def secret_key_list(self) -> list[str]:
        return [key.strip() for key in self.secret_keys.split(",") if key.strip()]


class ControlError(Exception):
    """A customer action or control call that cannot be done (not a Stripe API error)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Context:
    """Where the request came in (for hosted-page URLs) and which API request it was."""

    base_url: str
    request_id: str | None = None
    idempotency_key: str | None = None

    @property
    def request(self) -> dict[str, Any]:
        return {"id": self.request_id, "idempotency_key": self.idempotency_key}


def public(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An object as Stripe shows it (without the emulator's own `_` fields)."""
    return {key: value for key, value in obj.items() if not key.startswith("_")}


def page(items: list[dict[str, Any]], params: Mapping[str, Any], url: str) -> dict[str, Any]:
    """A list answer: newest first, `limit` (1–100, default 10) after `starting_after`."""
    limit = wire.integer(params, "limit")
    if limit is None:
        limit = 10
    if not 1 <= limit <= 100:
        raise wire.invalid("limit", "Invalid limit: must be between 1 and 100", "parameter_invalid")
    after = wire.text(params, "starting_after")
    if after is not None:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise wire.no_such("object", after, "starting_after")
        items = items[ids.index(after) + 1 :]
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": url}


@dataclass
class Stored:
    """What one Idempotency-Key remembers: the request, then its answer (None in flight)."""

    fingerprint: Any
    created: float
    status: int | None = None
    body: dict[str, Any] | None = None
    request_id: str = ""


@dataclass
class Endpoint:
    id: str
    url: str
    enabled_events: list[str]
    secrets: list[tuple[str, float | None]]  # (secret, expires at); the newest first
    created: int
    livemode: bool
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def wants(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events

    def active_secrets(self, now: float) -> list[str]:
        return [secret for secret, until in self.secrets if until is None or until > now]

    def view(self, *, with_secret: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "webhook_endpoint",
            "api_version": None,
            "application": None,
            "created": self.created,
            "description": self.description,
            "enabled_events": list(self.enabled_events),
            "livemode": self.livemode,
            "metadata": dict(self.metadata),
            "status": "enabled",
            "url": self.url,
        }
        if with_secret:
            body["secret"] = self.secrets[0][0]
        return body


@dataclass
class Account:
    """One Stripe account (one secret key): its objects, keys, endpoints and events."""

    key: str
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    idempotency: dict[str, Stored] = field(default_factory=dict)
    # What Stripe knows and does not show: when an intent was authorized, a pending 3DS card.
    authorized_at: dict[str, float] = field(default_factory=dict)
    pending_cards: dict[str, str] = field(default_factory=dict)

    @property
    def livemode(self) -> bool:
        return self.key.startswith(("sk_live_", "rk_live_"))

    @property
    def mode(self) -> str:
        return "live" if self.livemode else "test"


@dataclass
class Delivery:
    """One event's attempts at one endpoint."""

    event_id: str
    endpoint_id: str
    attempts: list[dict[str, Any]] = field(default_factory=list)
    delivered: bool = False


class StripeState:
    def __init__(self, options: Options, clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.clock = clock
        self.accounts: dict[str, Account] = {}
        self.owners: dict[str, Account] = {}  # object id → account (hosted pages, control API)
        self.outbox: list[tuple[Account, dict[str, Any]]] = []  # events not yet handed out
        self.raw: dict[str, bytes] = {}  # each event's body as sent, the same on every attempt
        self.deliveries: dict[str, list[Delivery]] = {}
        self.calls: list[dict[str, Any]] = []
        self.faults: dict[str, list[str]] = {}
        self.paused = False  # deliveries held back: events are recorded, not sent
        for key in options.secret_key_list():
            self.accounts[key] = Account(key)
        if options.webhook_url:
            first = self.accounts[options.secret_key_list()[0]]
            self.add_endpoint(first, options.webhook_url, ["*"], secret=options.webhook_secret)

    def now(self) -> int:
        return int(self.clock())

    def new_account(self) -> Account:
        key = new_id("sk_test", 32)
        self.accounts[key] = Account(key)
        return self.accounts[key]

    def add_endpoint(
        self,
        account: Account,
        url: str,
        events: list[str],
        secret: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Endpoint:
        endpoint = Endpoint(
            id=new_id("we"),
            url=url,
            enabled_events=events,
            secrets=[(secret or new_id("whsec", 32), None)],
            created=self.now(),
            livemode=account.livemode,
            description=description,
            metadata=metadata or {},
        )
        account.endpoints[endpoint.id] = endpoint
        return endpoint

    def roll_secret(self, endpoint: Endpoint, keep_old_seconds: float) -> str:
        """A new signing secret; the old ones sign too until they expire (`v1` for each)."""
        until = self.clock() + keep_old_seconds
        kept = [
            (secret, until if expiry is None else min(expiry, until))
            for secret, expiry in (endpoint.secrets)
        ]
        secret = new_id("whsec", 32)
        endpoint.secrets = [(secret, None), *kept]
        return secret

    def own(self, account: Account, obj: dict[str, Any]) -> dict[str, Any]:
        self.owners[str(obj["id"])] = account
        return obj

    # --- idempotency -------------------------------------------------------------------------

    def stored(self, account: Account, key: str) -> Stored | None:
        entry = account.idempotency.get(key)
        if (
            entry is not None
            and self.clock() - entry.created > self.options.idempotency_ttl_seconds
        ):
            del account.idempotency[key]  # pruned: the key is new again
            return None
        return entry

    # --- events ------------------------------------------------------------------------------

    def emit(
        self,
        account: Account,
        event_type: str,
        obj: Mapping[str, Any],
        request: Mapping[str, Any] | None = None,
        previous: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An event with a snapshot of `obj`, queued for delivery to the account's endpoints."""
        data: dict[str, Any] = {"object": copy.deepcopy(public(obj))}
        if previous:
            data["previous_attributes"] = copy.deepcopy(dict(previous))
        event_id = new_id("evt")
        event: dict[str, Any] = {
            "id": event_id,
            "object": "event",
            "api_version": self.options.api_version,
            "created": self.now(),
            "data": data,
            "livemode": account.livemode,
            "pending_webhooks": sum(1 for e in account.endpoints.values() if e.wants(event_type)),
            "request": dict(request or {"id": None, "idempotency_key": None}),
            "type": event_type,
        }
        account.events[event_id] = event
        self.raw[event_id] = json.dumps(event, indent=2).encode("utf-8")
        self.owners[event_id] = account
        self.outbox.append((account, event))
        return event

    def drain(self) -> list[tuple[Account, dict[str, Any]]]:
        events, self.outbox = self.outbox, []
        return events

    def event_view(self, event: Mapping[str, Any]) -> dict[str, Any]:
        deliveries = self.deliveries.get(str(event["id"]), [])
        return {
            "event": event,
            "raw": self.raw[str(event["id"])].decode("utf-8"),
            "deliveries": [
                {"endpoint": d.endpoint_id, "delivered": d.delivered, "attempts": d.attempts}
                for d in deliveries
            ],
        }

    # --- faults ------------------------------------------------------------------------------

    def take_fault(self, operation: str) -> str | None:
        queue = self.faults.get(operation)
        return queue.pop(0) if queue else None

    def refuse_unknown(self, account: Account | None, object_id: str) -> Account:
        if account is None:
            raise StripeError(404, f"No such object: '{object_id}'", code="resource_missing")
        return account
