"""Test harness: a real Postgres per xdist worker, migrated by Alembic, and payrelay served by
uvicorn on a loopback port so every test speaks real HTTP (the sandbox gateway included)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import make_url

from payrelay.config import Settings
from payrelay.kit import migrate
from payrelay.kit.db import Database
from payrelay.kit.embedded import EmbeddedPostgres
from payrelay.logging import configure_logging
from tests import inbox
from tests.factories import Factory

REPO = Path(__file__).resolve().parents[1]

# CI runs every property test on a fixed seed so a red build always means the same thing;
# locally they explore new examples on every run (and found real bugs that way).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("PAYRELAY_CI"):
    hypothesis_settings.load_profile("ci")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _admin(server_url: str, *statements: str) -> None:
    import asyncpg

    admin = make_url(server_url).set(drivername="postgresql")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _database_on(server_url: str, name: str) -> str:
    url = make_url(server_url).set(drivername="postgresql", database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh, migrated database for this worker: on PAYRELAY_TEST_DATABASE_URL's server when
    it is set, otherwise on an embedded server shared by all workers."""
    # The process id keeps concurrent runs (two terminals, two agents) apart.
    name = f"payrelay_test_{_worker()}_{os.getpid()}"
    external = os.environ.get("PAYRELAY_TEST_DATABASE_URL")
    embedded: EmbeddedPostgres | None = None
    if external:
        server_url = external
    else:
        embedded = EmbeddedPostgres(REPO / ".payrelay-test", database="postgres")
        server_url = embedded.start()
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    asyncio.run(_admin(server_url, drop, f'CREATE DATABASE "{name}"'))
    url = _database_on(server_url, name)
    migrate.upgrade(url)
    yield url
    asyncio.run(_admin(server_url, drop))
    if embedded is not None:
        embedded.stop()


class ServerThread:
    def __init__(self, settings: Settings, url: str) -> None:
        from payrelay.app import create_app

        config = uvicorn.Config(
            create_app(settings, url, with_worker=True),
            host="127.0.0.1",
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            # The test client keeps connections for the whole session: a server closing an idle
            # one just as the client reuses it is a race that fails a test for nothing.
            timeout_keep_alive=300,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, name="payrelay-test-server", daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Logs go through the same processors (redaction included) as in production.
    configure_logging("INFO", json=True)
    port = _free_port()
    return Settings(
        database_url=database_url,
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        allow_private_callbacks=True,
        log_level="WARNING",
        gateway_timeout_seconds=3,
        # Callbacks on a compressed schedule, so retries and dead letters take seconds.
        callback_timeout_seconds=1,
        callback_retry_schedule=(0.2, 0.4, 0.6),
        callback_retry_jitter=0,
        worker_poll_seconds=0.2,
        worker_schedule_seconds=1,
    )


@pytest.fixture(scope="session")
def server(settings: Settings, database_url: str) -> Iterator[str]:
    thread = ServerThread(settings, database_url)
    thread.start()
    yield settings.resolved_public_url()
    thread.stop()


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    inbox.DATABASE[:] = [database]
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def http(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        yield client


@pytest.fixture
def factory(db: Database, http: httpx.AsyncClient, settings: Settings) -> Factory:
    return Factory(db=db, http=http, settings=settings)


@pytest.fixture(scope="module")
def factory_module(db: Database, http: httpx.AsyncClient, settings: Settings) -> Factory:
    """The same factory, for module-scoped fixtures."""
    return Factory(db=db, http=http, settings=settings)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "scale: seeds a large history in its own database (tests/retention)"
    )
