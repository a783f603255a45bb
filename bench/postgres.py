"""The PostgreSQL server of one run: embedded (its own data folder under a temporary directory)
or the server `PAYRELAY_DATABASE_URL` names. Each scenario gets a fresh database on it, copied
from a template migrated once."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from sqlalchemy.engine import make_url

from bench.console import BenchError, say
from payrelay.kit.embedded import EmbeddedPostgres

PREFIX = "payrelay_bench_"
SETTINGS_REPORTED = (
    "server_version",
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "max_connections",
    "synchronous_commit",
    "fsync",
    "wal_level",
    "max_wal_size",
    "checkpoint_timeout",
    "random_page_cost",
    "jit",
)


class Postgres:
    def __init__(self, database_url: str | None, workdir: Path) -> None:
        self._external_url = database_url
        self._workdir = workdir
        self._embedded: EmbeddedPostgres | None = None
        self._base_url = ""

    @property
    def embedded(self) -> bool:
        return self._external_url is None

    def start(self) -> None:
        if self._external_url is not None:
            self._base_url = self._external_url
            return
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._embedded = EmbeddedPostgres(self._workdir, database="postgres")
        self._base_url = self._embedded.start()
        say(f"embedded PostgreSQL under {self._workdir}")

    def stop(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None
            shutil.rmtree(self._workdir, ignore_errors=True)

    def url(self, database: str) -> str:
        return make_url(self._base_url).set(database=database).render_as_string(hide_password=False)

    async def admin(self) -> Any:
        return await asyncpg.connect(self._base_url)

    async def create_database(self, name: str, template: str | None = None) -> str:
        _check_name(name)
        connection = await self.admin()
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            source = f' TEMPLATE "{template}"' if template else ""
            await connection.execute(f'CREATE DATABASE "{name}"{source}')
        finally:
            await connection.close()
        return self.url(name)

    async def drop_database(self, name: str) -> None:
        _check_name(name)
        connection = await self.admin()
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    async def postmaster_pid(self) -> int | None:
        """The server's main process when it runs on this machine (its children are the
        backends), else None: its CPU and memory are then not measured. A pid alone could name
        an unrelated local process when the server is remote, so the process must run in the
        server's data directory (readable by superusers only: otherwise nothing is measured)."""
        connection = await self.admin()
        try:
            data_directory = await connection.fetchval(
                "SELECT setting FROM pg_settings WHERE name = 'data_directory'"
            )
            backend = int(await connection.fetchval("SELECT pg_backend_pid()"))
            # While connected: the backend process exits with the connection.
            parent = psutil.Process(backend).parent()
            if parent is None or data_directory is None:
                return None
            return parent.pid if _runs_in(parent, data_directory) else None
        except psutil.Error:
            return None
        finally:
            await connection.close()

    async def describe(self) -> dict[str, str]:
        connection = await self.admin()
        try:
            rows = await connection.fetch(
                "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1::text[])",
                list(SETTINGS_REPORTED),
            )
        finally:
            await connection.close()
        described = {row["name"]: _with_unit(row["setting"], row["unit"]) for row in rows}
        described["kind"] = "embedded" if self.embedded else "external"
        return described


def _runs_in(process: psutil.Process, directory: str) -> bool:
    return Path(process.cwd()).resolve() == Path(directory).resolve()


def _check_name(name: str) -> None:
    if not re.fullmatch(rf"{PREFIX}[a-z0-9_]{{1,40}}", name):
        raise BenchError(f"refusing to create or drop database {name!r}")


def _with_unit(setting: str, unit: str | None) -> str:
    """`16384` with unit `8kB` reads as `128MB`."""
    if unit in ("8kB", "kB", "MB") and setting.isdigit():
        kilobytes = int(setting) * {"8kB": 8, "kB": 1, "MB": 1024}[unit]
        if kilobytes >= 1024 and kilobytes % 1024 == 0:
            return f"{kilobytes // 1024}MB"
        return f"{kilobytes}kB"
    return f"{setting}{unit or ''}"
