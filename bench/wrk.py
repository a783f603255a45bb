"""wrk, the load generator: found (or installed on Debian as root), run with bench/lua/payrelay.lua,
its JSON summary parsed.

wrk is written in C around epoll: one thread drives 32 connections for a few percent of a core,
which leaves the 2 cores of a small machine to the server being measured.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.console import BenchError, say

SCRIPT = Path(__file__).parent / "lua" / "payrelay.lua"
MARKER = "BENCH_RESULT "
INSTALL_HINT = (
    "the benchmark needs wrk (https://github.com/wg/wrk): `apt-get install wrk` on Debian or "
    "Ubuntu, `brew install wrk` on macOS, or build it from source; then run again"
)


def ensure_wrk() -> str:
    """The path of wrk; installed with apt-get when missing and we are root on Debian."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not Path("/etc/debian_version").exists() or not shutil.which("apt-get"):
        raise BenchError(INSTALL_HINT)
    say("wrk is not installed: apt-get install -y wrk")
    result = _apt("install", "-y", "wrk")
    if not shutil.which("wrk"):  # an old package list: refresh it once
        _apt("update")
        result = _apt("install", "-y", "wrk")
    found = shutil.which("wrk")
    if found:
        return found
    raise BenchError(f"apt-get install wrk failed ({result.strip()[-300:]}); {INSTALL_HINT}")


def _apt(*arguments: str) -> str:
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt_get = shutil.which("apt-get") or "/usr/bin/apt-get"
    completed = subprocess.run(  # noqa: S603
        [apt_get, *arguments], env=environment, capture_output=True, text=True, check=False
    )
    return completed.stderr


def wrk_version(path: str) -> str:
    completed = subprocess.run([path, "-v"], capture_output=True, text=True, check=False)  # noqa: S603
    text = (completed.stdout + completed.stderr).strip().splitlines()
    return text[0] if text else "unknown"


@dataclass(frozen=True, slots=True)
class WrkResult:
    duration_s: float
    requests: int
    errors: dict[str, int]
    latency_ms: dict[str, float]  # min, mean, p50, p90, p99, p999, max
    exhausted: int  # requests that found no unused payment id (capture pool too small)
    cpu_seconds: float  # wrk's own CPU time

    @property
    def throughput(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())


@dataclass(frozen=True, slots=True)
class Load:
    """One wrk invocation: what to send, how hard and for how long."""

    mode: str
    options: dict[str, str]
    duration: int
    connections: int
    threads: int
    headers: dict[str, str]


async def run_wrk(wrk: str, base_url: str, load: Load) -> WrkResult:
    command = [
        wrk,
        f"-t{load.threads}",
        f"-c{max(load.connections, load.threads)}",
        f"-d{max(1, math.ceil(load.duration))}s",
        "--timeout",
        "30s",
        "-s",
        str(SCRIPT),
    ]
    for name, value in load.headers.items():
        command += ["-H", f"{name}: {value}"]
    command += [base_url, "--", f"mode={load.mode}", f"threads={load.threads}"]
    command += [f"{name}={value}" for name, value in load.options.items()]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await process.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if process.returncode != 0:
        raise BenchError(f"wrk failed ({process.returncode}): {stderr.decode()[-500:]}")
    return parse_result(stdout.decode(), cpu)


def parse_result(output: str, cpu_seconds: float) -> WrkResult:
    for line in output.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            break
    else:
        raise BenchError(f"wrk printed no result line: {output[-500:]}")
    latency = {name: round(value / 1000, 3) for name, value in data["latency_us"].items()}
    return WrkResult(
        duration_s=data["duration_us"] / 1e6,
        requests=int(data["requests"]),
        errors={name: int(value) for name, value in data["errors"].items()},
        latency_ms=latency,
        exhausted=int(data["exhausted"]),
        cpu_seconds=round(cpu_seconds, 3),
    )
