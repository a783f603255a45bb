"""The processes a scenario measures: payrelay's API and worker (`payrelay serve`) and the
reference app, each a subprocess with its own log file, ready once its health check answers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.console import BenchError
from bench.http import HttpClient

REPOSITORY = Path(__file__).resolve().parent.parent
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
# Settings the harness gives each payrelay process; any other PAYRELAY_* variable of the caller
# (pool sizes, batch sizes) passes through, so a sizing experiment is just an environment.
OWN_SETTINGS = frozenset(
    {
        "PAYRELAY_DATABASE_URL",
        "PAYRELAY_HOST",
        "PAYRELAY_PORT",
        "PAYRELAY_PUBLIC_URL",
        "PAYRELAY_ALLOW_PRIVATE_CALLBACKS",
        "PAYRELAY_LOG_LEVEL",
        "PAYRELAY_HOME",
    }
)


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def passed_through_settings() -> dict[str, str]:
    """The caller's own PAYRELAY_* settings given to every payrelay process (not secrets: the
    database URL is the harness's own)."""
    return {
        name: value
        for name, value in os.environ.items()
        if name.startswith("PAYRELAY_") and name not in OWN_SETTINGS
    }


def environment_note() -> dict[str, str]:
    """The caller's PAYRELAY_* settings every payrelay process gets, for the results: values
    that may be secret are hidden, and an external database shows as such."""
    hidden = ("SECRET", "KEY", "TOKEN", "PASSWORD", "URL")
    note = {
        name: "***" if any(word in name for word in hidden) else value
        for name, value in passed_through_settings().items()
    }
    if os.environ.get("PAYRELAY_DATABASE_URL"):
        note["PAYRELAY_DATABASE_URL"] = "an external server (not shown)"
    return note


def payrelay_environment(database_url: str, api_port: int) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PAYRELAY_") or name not in OWN_SETTINGS
    }
    environment.update(
        PAYRELAY_DATABASE_URL=database_url,
        PAYRELAY_HOST="127.0.0.1",
        PAYRELAY_PORT=str(api_port),
        PAYRELAY_PUBLIC_URL=f"http://127.0.0.1:{api_port}",
        PAYRELAY_ALLOW_PRIVATE_CALLBACKS="true",
        PAYRELAY_LOG_LEVEL="WARNING",
    )
    return environment


def start(
    name: str, arguments: list[str], environment: dict[str, str], log_dir: Path, port: int | None
) -> Service:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, *arguments],
            env=environment,
            cwd=REPOSITORY,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Service(name, process, log_path, port)


def start_payrelay(role: str, database_url: str, api_port: int, log_dir: Path) -> Service:
    arguments = ["-m", "payrelay", "serve", "--role", role, "--no-migrate"]
    port = api_port if role != "worker" else None
    return start(
        f"payrelay-{role}", arguments, payrelay_environment(database_url, api_port), log_dir, port
    )


def start_reference(database_url: str, log_dir: Path) -> Service:
    port = free_port()
    arguments = ["-m", "bench.reference_app", "--port", str(port), "--database-url", database_url]
    environment = dict(os.environ)
    return start("reference", arguments, environment, log_dir, port)


async def wait_ready(service: Service, path: str) -> None:
    """Until `path` answers 200; fails with the log's end if the process exits or never does."""
    client = HttpClient(service.base_url, max_connections=1, timeout=5)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise BenchError(f"{service.name} exited at start:\n{service.log_tail()}")
            with contextlib.suppress(OSError, asyncio.TimeoutError, ValueError):
                if (await client.request("GET", path)).status == 200:
                    return
            await asyncio.sleep(0.2)
    finally:
        await client.close()
    raise BenchError(f"{service.name} not ready after {START_TIMEOUT:.0f}s:\n{service.log_tail()}")


async def wait_started(service: Service, seconds: float = 3.0) -> None:
    """A process without a port (the worker): alive after its imports and first connection."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise BenchError(f"{service.name} exited at start:\n{service.log_tail()}")
        await asyncio.sleep(0.2)


async def stop(service: Service) -> None:
    """SIGTERM (a graceful stop), then SIGKILL after a grace period."""
    if service.process.poll() is not None:
        return
    service.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            return
        await asyncio.sleep(0.1)
    service.process.kill()
    await asyncio.to_thread(service.process.wait)
