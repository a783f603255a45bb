"""What PostgreSQL's busy backends were doing during a run, sampled from `pg_stat_activity`
twice a second: running on CPU, or waiting (for a lock, the WAL flush, the client, ...), and
which statements wait for locks. The shares point at the bottleneck when throughput stalls while
CPUs are idle."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from types import TracebackType
from typing import Any

import asyncpg

INTERVAL = 0.5
ACTIVE_BACKENDS = r"""
SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS what,
       CASE WHEN wait_event_type = 'Lock' THEN left(regexp_replace(query, '\s+', ' ', 'g'), 90)
       END AS blocked_query
FROM pg_stat_activity
WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()
"""


BUSY_BACKENDS = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND state IN ('active', 'idle in transaction')
  AND pid <> pg_backend_pid() AND query NOT ILIKE 'LISTEN%'
"""
QUIET_SAMPLES = 4  # consecutive idle readings, 0.25 s apart


async def wait_idle(database_url: str, within: float = 120.0) -> bool:
    """Until no request of an earlier run is still at work in the database (wrk abandons its
    in-flight requests when a run ends; the server finishes them). False if it never settles."""
    connection = await asyncpg.connect(database_url)
    try:
        deadline = asyncio.get_running_loop().time() + within
        quiet = 0
        while asyncio.get_running_loop().time() < deadline:
            busy = int(await connection.fetchval(BUSY_BACKENDS))
            quiet = quiet + 1 if busy == 0 else 0
            if quiet >= QUIET_SAMPLES:
                return True
            await asyncio.sleep(0.25)
        return False
    finally:
        await connection.close()


class WaitSampler:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.counts: Counter[str] = Counter()
        self.blocked: Counter[str] = Counter()  # statements waiting for a lock
        self.samples = 0
        self._task: asyncio.Task[None] | None = None
        self._connection: Any = None

    async def __aenter__(self) -> WaitSampler:
        self._connection = await asyncpg.connect(self.database_url)
        self._task = asyncio.create_task(self._sample_loop())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._connection is not None:
            await self._connection.close()

    async def _sample_loop(self) -> None:
        while True:
            rows = await self._connection.fetch(ACTIVE_BACKENDS)
            self.samples += 1
            self.counts.update(row["what"] for row in rows)
            self.blocked.update(row["blocked_query"] for row in rows if row["blocked_query"])
            await asyncio.sleep(INTERVAL)

    def summary(self, top: int = 6) -> dict[str, Any]:
        """Mean active backends per sample, and the share of each state among them."""
        total = sum(self.counts.values())
        return {
            "samples": self.samples,
            "mean_active_backends": round(total / self.samples, 2) if self.samples else 0.0,
            "states": {
                what: round(100 * count / total, 1) for what, count in self.counts.most_common(top)
            },
            "lock_waits_by_statement": dict(self.blocked.most_common(3)),
        }
