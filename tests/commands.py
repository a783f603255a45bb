"""The command line, run as an operator runs it: `payrelay ...` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys


def payrelay(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAYRELAY_DATABASE_URL": database_url, "PAYRELAY_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "payrelay", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
