"""A development receiver for callbacks (`payrelay callbacks listen`): prints what arrives and
whether its signatures verify, the way a merchant's endpoint would check them."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from payrelay.kit.crypto import body_signature_hex, standard_webhooks_signature

TOLERANCE_SECONDS = 300


def check(secret: str, headers: dict[str, str], body: bytes, now: float) -> dict[str, bool]:
    """Which of payrelay's signatures verify with `secret`."""
    message_id = headers.get("webhook-id", "")
    try:
        timestamp = int(headers.get("webhook-timestamp", ""))
    except ValueError:
        timestamp = 0
    expected = standard_webhooks_signature(secret, message_id, timestamp, body)
    given = headers.get("webhook-signature", "").split()
    return {
        "standard_webhooks": abs(now - timestamp) <= TOLERANCE_SECONDS
        and any(hmac.compare_digest(expected, signature) for signature in given),
        "signature_header": hmac.compare_digest(
            body_signature_hex(secret, body), headers.get("signature", "")
        ),
    }


def serve_receiver(port: int, secret: str | None, emit: Callable[[str], None]) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                payload = json.loads(body)
            except ValueError:
                payload = body.decode("utf-8", errors="replace")
            line: dict[str, object] = {"path": self.path, "payload": payload}
            if secret:
                line["verified"] = check(secret, headers, body, time.time())
            emit(json.dumps(line, ensure_ascii=False))
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
