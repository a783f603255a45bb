"""One scenario's system: a fresh database, a merchant with a sandbox account, payrelay's API and
worker processes, and the harness's own HTTP client and database connection."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench import services
from bench.config import BenchConfig
from bench.console import BenchError, say
from bench.http import HttpClient
from bench.monitor import Watch
from bench.postgres import PREFIX, Postgres
from bench.receiver import CallbackReceiver
from bench.services import Service

TEMPLATE = f"{PREFIX}template"
CLI_TIMEOUT = 120.0


@dataclass
class RunContext:
    """What every scenario of one run shares."""

    config: BenchConfig
    postgres: Postgres
    wrk: str
    workdir: Path
    receiver: CallbackReceiver
    stamp: str  # the results' file name stem
    postmaster_pid: int | None = None

    def database_watches(self) -> dict[str, Watch]:
        return {} if self.postmaster_pid is None else {"postgres": Watch(self.postmaster_pid)}


@dataclass
class Stack:
    scenario: str
    database: str
    url: str
    api: Service
    worker: Service
    merchant_id: uuid.UUID
    api_key: str
    account_id: int
    sandbox_api_key: str
    webhook_secret: str
    client: HttpClient
    db: Any  # asyncpg.Connection

    @property
    def base_url(self) -> str:
        return self.api.base_url

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def watches(self, context: RunContext) -> dict[str, Watch]:
        return {
            "payrelay-api": Watch(self.api.pid),
            "payrelay-worker": Watch(self.worker.pid),
            **context.database_watches(),
        }


async def prepare_template(context: RunContext) -> None:
    """A database migrated once; every scenario's database is a copy of it."""
    url = await context.postgres.create_database(TEMPLATE)
    say("migrating the template database")
    await run_cli(["migrate"], url, expect_json=False)


async def run_cli(arguments: list[str], database_url: str, *, expect_json: bool = True) -> Any:
    environment = services.payrelay_environment(database_url, services.free_port())
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "payrelay",
        *arguments,
        env=environment,
        cwd=services.REPOSITORY,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT)
    if process.returncode != 0:
        raise BenchError(f"payrelay {' '.join(arguments[:2])} failed: {stderr.decode()[-800:]}")
    return json.loads(stdout) if expect_json else None


@asynccontextmanager
async def open_stack(context: RunContext, scenario: str) -> AsyncIterator[Stack]:
    database = f"{PREFIX}{scenario.replace('-', '_')}"
    url = await context.postgres.create_database(database, template=TEMPLATE)
    log_dir = context.workdir / "logs" / scenario
    merchant = await run_cli(
        [
            *("merchant", "create", "--name", f"bench {scenario}"),
            *("--callback-url", context.receiver.url, "--json"),
        ],
        url,
    )
    sandbox_api_key = "sbx_" + secrets.token_urlsafe(24)
    webhook_secret = "sbx_" + secrets.token_urlsafe(24)
    config = json.dumps({"api_key": sandbox_api_key, "webhook_secret": webhook_secret})
    account = await run_cli(
        [
            *("gateway", "set", "--merchant", merchant["id"], "--gateway", "sandbox"),
            *("--config", config, "--json"),
        ],
        url,
    )
    port = services.free_port()
    api = services.start_payrelay("api", url, port, log_dir)
    worker = services.start_payrelay("worker", url, port, log_dir)
    client = HttpClient(api.base_url, max_connections=context.config.concurrency)
    db = None
    try:
        await services.wait_ready(api, "/readyz")
        db = await asyncpg.connect(url)
        await _wait_for_worker(db, worker)
        yield Stack(
            scenario=scenario,
            database=database,
            url=url,
            api=api,
            worker=worker,
            merchant_id=uuid.UUID(merchant["id"]),
            api_key=merchant["api_key"],
            account_id=int(account["id"]),
            sandbox_api_key=sandbox_api_key,
            webhook_secret=webhook_secret,
            client=client,
            db=db,
        )
    finally:
        await client.close()
        if db is not None:
            await db.close()
        await asyncio.gather(services.stop(api), services.stop(worker))
        if not context.config.keep_databases:
            await context.postgres.drop_database(database)


async def _wait_for_worker(db: Any, worker: Service) -> None:
    """The worker is up once its LISTEN connection is (it has no HTTP port to ask)."""
    deadline = time.monotonic() + services.START_TIMEOUT
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise BenchError(f"{worker.name} exited at start:\n{worker.log_tail()}")
        listening = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
        )
        if listening:
            return
        await asyncio.sleep(0.2)
    raise BenchError(f"{worker.name} never listened:\n{worker.log_tail()}")
