"""`--profile`: py-spy on payrelay's API process during an extra create run (after the measured
ones, so they stay unprofiled). Writes an SVG flame graph, the raw collapsed stacks and a summary
of where the samples fall: by package of the innermost frame (self time) and by function
including callees (inclusive time). The raw stacks (py-spy's collapsed format, gzipped) can be
fed to any flame graph tool."""

from __future__ import annotations

import asyncio
import gzip
import re
import shutil
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.console import say
from bench.measure import LoadFor, run_tag
from bench.stack import RunContext, Stack
from bench.wrk import run_wrk

RATE = 67  # samples per second of each of the two recorders
PACKAGES = (
    ("payrelay", "/payrelay/"),
    ("sqlalchemy", "/sqlalchemy/"),
    ("asyncpg", "/asyncpg/"),
    ("pydantic", "/pydantic"),
    ("fastapi", "/fastapi/"),
    ("starlette", "/starlette/"),
    ("uvicorn", "/uvicorn/"),
    ("httpx/httpcore", "/httpx/"),
    ("httpx/httpcore", "/httpcore/"),
    ("httpx/httpcore", "/h11/"),
    ("anyio", "/anyio/"),
    ("structlog", "/structlog/"),
    ("prometheus", "/prometheus_client/"),
    ("json", "/json/"),
    ("asyncio", "/asyncio/"),
    ("typing/dataclasses/enum", "/typing.py"),
    ("typing/dataclasses/enum", "/dataclasses.py"),
    ("typing/dataclasses/enum", "/enum.py"),
)
IDLE_FILES = ("threading.py", "queue.py", "selectors.py")
GREENLET_ROOTS = ("sqlalchemy/", "greenlet")
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^():]+)(?::\d+)?\)$")


def py_spy_path() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


async def profile_create(context: RunContext, stack: Stack, load_for: LoadFor) -> dict[str, Any]:
    """An extra create run with py-spy on the API process."""
    seconds = context.config.duration

    async def load() -> float:
        result = await run_wrk(context.wrk, stack.base_url, load_for(run_tag("p"), seconds))
        return result.throughput

    return await profile_process(
        context, stack.api.pid, "payrelay-api", "create", seconds, load, "created payments"
    )


async def profile_process(
    context: RunContext,
    pid: int,
    process: str,
    scenario: str,
    seconds: float,
    load: Callable[[], Awaitable[float]],
    doing: str,
) -> dict[str, Any]:
    """py-spy on process `pid` for `seconds` while `load` runs (it returns the rate it
    reached): a flame graph, the raw stacks and a summary, named after the scenario."""
    py_spy = py_spy_path()
    if py_spy is None:
        return {"error": "py-spy is not installed (pip install py-spy)"}
    out = context.config.out
    flamegraph = out / f"{context.stamp}-{scenario}-flamegraph.svg"
    raw = out / f"{context.stamp}-{scenario}-stacks.txt"
    say(f"{scenario}: profiling {process} with py-spy for {seconds:.0f}s")
    recorders = [
        await asyncio.create_subprocess_exec(
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(RATE),
            "--format",
            kind,
            "--output",
            str(path),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for kind, path in (("flamegraph", flamegraph), ("raw", raw))
    ]
    rate = await load()
    errors = [(await recorder.communicate())[1].decode() for recorder in recorders]
    if not raw.exists():
        return {"error": f"py-spy recorded nothing: {' '.join(errors)[-500:]}"}
    summary = summarize(raw.read_text())
    summary_path = out / f"{context.stamp}-{scenario}-profile.md"
    summary_path.write_text(render_summary(summary, rate, process, scenario, doing))
    stacks = compress(raw)
    return {
        "process": process,
        "flamegraph": flamegraph.name,
        "stacks": stacks.name,
        "summary": summary_path.name,
        "rate_while_profiled": round(rate, 1),
        **summary,
    }


def compress(path: Path) -> Path:
    """The raw stacks gzipped (a megabyte of text per 20 s of samples shrinks tenfold)."""
    packed = path.with_name(path.name + ".gz")
    with path.open("rb") as source, gzip.open(packed, "wb") as target:
        shutil.copyfileobj(source, target)
    path.unlink()
    return packed


def _package(file: str) -> str:
    path = "/" + file  # py-spy names files from their package (`asyncpg/connection.py`)
    for name, marker in PACKAGES:
        if marker in path:
            return name
    return "other"


def summarize(collapsed: str, top: int = 15) -> dict[str, Any]:
    self_by_package: Counter[str] = Counter()
    self_by_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    entries: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";")]
        leaf_name, leaf_file = frames[-1]
        if leaf_file.endswith(IDLE_FILES):  # a pool thread waiting for work, not CPU
            continue
        total += count
        entries[_entry(frames[0][1])] += count
        self_by_package[_package(leaf_file)] += count
        self_by_function[f"{leaf_name} ({_short(leaf_file)})"] += count
        for name, file in set(frames):
            if _package(file) == "payrelay":
                inclusive[f"{name} ({_short(file)})"] += count

    def shares(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"name": name, "samples": count, "percent": round(100 * count / max(total, 1), 1)}
            for name, count in counter.most_common(top)
        ]

    return {
        "samples": total,
        "entries": shares(entries),
        "self_by_package": shares(self_by_package),
        "self_by_function": shares(self_by_function),
        "payrelay_inclusive": shares(inclusive),
    }


def _entry(root_file: str) -> str:
    """Where a sampled stack starts: SQLAlchemy's async layer runs ORM work in greenlets, whose
    stacks py-spy shows without the payrelay code that awaited them."""
    if "runpy" in root_file or root_file.startswith("payrelay/"):
        return "event loop (payrelay code on the stack)"
    if root_file.startswith(GREENLET_ROOTS):
        return "SQLAlchemy greenlet (ORM and driver work; caller not visible)"
    return "other"


def _function(frame: str) -> tuple[str, str]:
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), ""
    return match["function"], match["file"]


def _short(file: str) -> str:
    for marker in ("site-packages/", "/src/", "lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def render_summary(
    summary: dict[str, Any], rate: float, process: str, scenario: str, doing: str
) -> str:
    lines = [
        f"# py-spy profile of {process} during the {scenario} scenario",
        "",
        f"{summary['samples']} samples of {process} (idle time excluded) while the load "
        f"{doing} at {rate:.0f}/s. Flame graph: the `-{scenario}-flamegraph.svg` file next to "
        "this one.",
    ]
    sections = (
        ("Where the sampled stacks start", "entries"),
        ("Self time by package (innermost Python frame)", "self_by_package"),
        ("Self time by function", "self_by_function"),
        (
            "payrelay functions, including what they call (event-loop stacks only)",
            "payrelay_inclusive",
        ),
    )
    for title, key in sections:
        lines += ["", f"## {title}", "", "| | samples | % |", "|---|---:|---:|"]
        lines += [
            f"| `{row['name']}` | {row['samples']} | {row['percent']} |" for row in summary[key]
        ]
    return "\n".join(lines) + "\n"
