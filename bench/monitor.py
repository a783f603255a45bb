"""CPU time and peak memory of each process tree (payrelay, the reference, PostgreSQL) while a
load runs.

CPU is the difference of two readings of a tree: the user and system time of every live process
in it plus what each has reaped from its exited children, so a PostgreSQL backend that ends
mid-run is still counted. Memory is the tree's proportional set size (PSS: shared pages such as
PostgreSQL's shared buffers are split between the processes that map them, not counted once per
backend), sampled every 0.5 s for a single process and every 2 s for a tree of many (reading PSS
costs the kernel about a millisecond per process, CPU taken from the machine being measured).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

INTERVAL = 0.5
TREE_EVERY = 4  # samples between two readings of a many-process tree


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_seconds: float
    cpu_percent: float  # of one core, over the measured wall time
    peak_memory_mb: float | None  # None: not sampled (wrk, whose CPU comes from getrusage)
    processes: int  # most processes seen in the tree at once
    # Time runnable but waiting for a CPU, as a share of the wall time (summed over the tree):
    # high when something else on the machine took the cores. None where Linux does not say.
    queued_percent: float | None = None


@dataclass(frozen=True, slots=True)
class Watch:
    """A process to measure, with its descendants unless `alone` (the harness itself, whose
    children are the services measured on their own)."""

    pid: int
    alone: bool = False


def tree(watch: Watch) -> list[psutil.Process]:
    try:
        root = psutil.Process(watch.pid)
        return [root] if watch.alone else [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu(watch: Watch) -> float:
    total = 0.0
    for process in tree(watch):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
        if not watch.alone:
            total += times.children_user + times.children_system
    return total


def tree_queued(watch: Watch) -> float | None:
    """Seconds the tree's processes spent runnable but waiting for a CPU (Linux schedstat;
    processes that ended in between are not counted)."""
    total, found = 0, False
    for process in tree(watch):
        try:
            fields = Path(f"/proc/{process.pid}/schedstat").read_text().split()
        except OSError:
            continue
        total += int(fields[1])
        found = True
    return total / 1e9 if found else None


def tree_memory(watch: Watch) -> tuple[float, int]:
    """PSS in bytes (RSS where PSS cannot be read) and the number of processes."""
    processes = tree(watch)
    total = 0.0
    for process in processes:
        try:
            try:
                total += process.memory_full_info().pss
            except (psutil.AccessDenied, AttributeError):
                total += process.memory_info().rss
        except psutil.Error:
            continue
    return total, len(processes)


class ResourceMonitor:
    """`with ResourceMonitor({"payrelay-api": Watch(pid), ...}) as m:` ... then `m.usage`."""

    def __init__(self, targets: dict[str, Watch]) -> None:
        self.targets = dict(targets)
        self.usage: dict[str, Usage] = {}
        self._peak: dict[str, float] = dict.fromkeys(self.targets, 0.0)
        self._count: dict[str, int] = dict.fromkeys(self.targets, 0)
        self._cpu_start: dict[str, float] = {}
        self._queued_start: dict[str, float | None] = {}
        self._started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, name="bench-monitor", daemon=True)

    def __enter__(self) -> ResourceMonitor:
        self._cpu_start = {name: tree_cpu(watch) for name, watch in self.targets.items()}
        self._queued_start = {name: tree_queued(watch) for name, watch in self.targets.items()}
        self._started = time.monotonic()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        wall = max(time.monotonic() - self._started, 1e-9)
        for name, watch in self.targets.items():
            cpu = max(tree_cpu(watch) - self._cpu_start[name], 0.0)
            queued_end, queued_start = tree_queued(watch), self._queued_start[name]
            queued = (
                None
                if queued_end is None or queued_start is None
                else round(100 * max(queued_end - queued_start, 0.0) / wall, 1)
            )
            self.usage[name] = Usage(
                cpu_seconds=round(cpu, 3),
                cpu_percent=round(100 * cpu / wall, 1),
                peak_memory_mb=round(self._peak[name] / 2**20, 1),
                processes=self._count[name],
                queued_percent=queued,
            )

    def _sample_loop(self) -> None:
        sample = 0
        while not self._stop.wait(INTERVAL):
            sample += 1
            self._sample(trees=sample % TREE_EVERY == 0)

    def _sample(self, *, trees: bool = True) -> None:
        for name, watch in self.targets.items():
            if not trees and self._count[name] > 1:
                continue
            memory, count = tree_memory(watch)
            self._peak[name] = max(self._peak[name], memory)
            self._count[name] = max(self._count[name], count)
