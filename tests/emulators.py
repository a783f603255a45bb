"""Gateway emulators served on loopback for the tests, each in a thread with its own loop."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from payrelay import connectors


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningEmulator:
    """`with RunningEmulator("momo", {"option": "value"}) as emulator:` → `emulator.url`."""

    def __init__(self, code: str, options: dict[str, str] | None = None) -> None:
        self.app: Any = connectors.emulator_app(code, options or {})
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app, host="127.0.0.1", port=self.port, log_config=None, access_log=False
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RunningEmulator:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("emulator did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
