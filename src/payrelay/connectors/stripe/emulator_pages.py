"""The Stripe emulator's pages for the customer: hosted Checkout and the 3-D Secure challenge."""

from __future__ import annotations

import html
from typing import Any

from payrelay.connectors.stripe import currencies

TEST_CARDS = (
    ("4242424242424242", "Visa: succeeds"),
    ("4000000000000002", "declined (generic_decline)"),
    ("4000000000009995", "declined (insufficient_funds)"),
    ("4000000000000069", "expired_card"),
    ("4000000000000127", "incorrect_cvc"),
    ("4000000000000119", "processing_error"),
    ("4000002500003155", "3-D Secure required"),
    ("4000000000003220", "3-D Secure 2 required"),
)


def page(title: str, content: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)} (emulator)</h1>{content}</body></html>"
    )


def checkout(session: dict[str, Any], error: str | None = None) -> str:
    amount = currencies.from_minor(int(session["amount_total"]), str(session["currency"]))
    currency = html.escape(str(session["currency"]).upper())
    options = "".join(
        f"<option value='{number}'>{number}: {html.escape(label)}</option>"
        for number, label in TEST_CARDS
    )
    warning = f"<p role='alert'><strong>{html.escape(error)}</strong></p>" if error else ""
    cancel = ""
    if session.get("cancel_url"):
        cancel = f"<p><a href='{html.escape(str(session['cancel_url']))}'>Back</a></p>"
    form = (
        f"<form method='post' action='/c/pay/{html.escape(str(session['id']))}'>"
        f"<label>Card number <input name='card' list='cards' value='4242424242424242'></label>"
        f"<datalist id='cards'>{options}</datalist> <button>Pay</button></form>"
    )
    details = (
        f"<p>Session <code>{html.escape(str(session['id']))}</code></p>"
        f"<p>Pay <strong>{amount} {currency}</strong></p>"
    )
    return page("Stripe Checkout", details + warning + form + cancel)


def closed(session: dict[str, Any]) -> str:
    status = html.escape(str(session["status"]))
    link = ""
    if session["status"] == "complete" and session.get("success_url"):
        link = f"<p><a href='{html.escape(str(session['success_url']))}'>Continue</a></p>"
    return page("Stripe Checkout", f"<p>This Checkout Session is {status}.</p>{link}")


def challenge(intent: dict[str, Any]) -> str:
    intent_id = html.escape(str(intent["id"]))
    buttons = (
        "<button name='outcome' value='complete'>Complete authentication</button> "
        "<button name='outcome' value='fail'>Fail authentication</button>"
    )
    return page(
        "3D Secure",
        f"<p>Authenticate the payment <code>{intent_id}</code>.</p>"
        f"<form method='post' action='/3ds/{intent_id}'>{buttons}</form>",
    )
