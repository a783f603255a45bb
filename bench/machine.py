"""The machine and software a run measured, recorded next to its figures."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import psutil

from bench.services import REPOSITORY


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git() -> dict[str, Any]:
    def git(*arguments: str) -> str:
        completed = subprocess.run(  # noqa: S603
            ["git", *arguments],  # noqa: S607
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=False,
        )
        return completed.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def describe() -> dict[str, Any]:
    from payrelay import __version__

    load = os.getloadavg()
    return {
        "cpu": _cpu_model(),
        "logical_cpus": psutil.cpu_count(logical=True),
        "physical_cpus": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "payrelay": __version__,
        "git": _git(),
        "load_average_at_start": [round(value, 2) for value in load],
    }
