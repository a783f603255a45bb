"""Progress lines on stderr; stdout stays free for whatever a caller pipes."""

from __future__ import annotations

import sys
import time

_STARTED = time.monotonic()


def say(message: str) -> None:
    elapsed = time.monotonic() - _STARTED
    sys.stderr.write(f"[bench {elapsed:7.1f}s] {message}\n")
    sys.stderr.flush()


class BenchError(RuntimeError):
    """A benchmark could not run (missing tool, service that did not start, bad option)."""
