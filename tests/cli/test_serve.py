"""`payrelay serve` with no database URL: a private PostgreSQL under PAYRELAY_HOME, started,
migrated, stopped with the service on SIGTERM or Ctrl-C, and reused by the next start."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYRELAY_")}
    env.update(PAYRELAY_HOME=str(home), PAYRELAY_PUBLIC_URL=f"http://127.0.0.1:{port}")
    return env


def _start(home: Path, port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "payrelay", "serve", "--port", str(port)],
        env=_env(home, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stderr is not None
            with process.stderr:
                raise AssertionError(f"serve exited early: {process.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("serve did not become ready")


def _cli(home: Path, port: int, *args: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "payrelay", *args, "--json"],
        env=_env(home, port),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    parsed: dict[str, str] = json.loads(result.stdout)
    return parsed


def _postmaster(home: Path) -> psutil.Process | None:
    pid_file = home / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def _stop(process: subprocess.Popen[str], sig: int) -> None:
    process.send_signal(sig)
    try:
        assert process.wait(timeout=60) == 0
    finally:
        if process.stderr is not None:
            process.stderr.close()


@pytest.mark.timeout(240)
def test_serve_starts_embedded_postgres_stops_it_and_reuses_the_data(tmp_path):
    home = tmp_path / "home"
    port = _free_port()
    first = _start(home, port)
    try:
        postgres = _postmaster(home)
        assert postgres is not None
        assert postgres.is_running()
        merchant = _cli(home, port, "merchant", "create", "--name", "Embedded")
        _cli(home, port, "gateway", "set", "--merchant", merchant["id"], "--gateway", "sandbox")
        headers = {"Authorization": f"Bearer {merchant['api_key']}"}
        created = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/payments/create",
            json={"order_id": "o", "amount": "5000", "currency": "VND", "gateway": "sandbox"},
            headers={**headers, "Idempotency-Key": "embedded-1"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        # The CLI joined the running server and left it running.
        assert postgres.is_running()
    finally:
        _stop(first, signal.SIGTERM)
    postgres.wait(timeout=30)
    assert not postgres.is_running()

    second = _start(home, port)
    try:
        again = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/payments/{created.json()['id']}",
            headers=headers,
            timeout=30,
        )
        assert again.status_code == 200
        assert again.json()["order_id"] == "o"
        restarted = _postmaster(home)
        assert restarted is not None
    finally:
        _stop(second, signal.SIGINT)  # Ctrl-C
    restarted.wait(timeout=30)
    assert not restarted.is_running()
