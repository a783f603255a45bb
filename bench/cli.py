"""`python -m bench [--quick] [--duration S] [--warmup S] [--concurrency N] [--scenarios a,b]
[--out DIR] ...`: run the scenarios, write `<out>/<stamp>.json`, `<stamp>.md` and the charts."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import charts, machine, report
from bench.config import FULL, QUICK, SCENARIOS, BenchConfig
from bench.console import BenchError, say
from bench.postgres import Postgres
from bench.receiver import CallbackReceiver
from bench.results import ScenarioResult
from bench.scenarios import RUNNERS
from bench.services import environment_note
from bench.stack import TEMPLATE, RunContext, prepare_template
from bench.targets import judge
from bench.wrk import ensure_wrk, wrk_version

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not sizes or any(size < 0 for size in sizes):
        raise argparse.ArgumentTypeError("sizes must be integers >= 0")
    return sizes


def _scenarios(text: str) -> tuple[str, ...]:
    if text == "all":
        return SCENARIOS
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown scenario(s) {', '.join(unknown) or '(none)'}; choose from "
            f"{', '.join(SCENARIOS)} or all"
        )
    return chosen


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be at least 0")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0 < value <= 10_000:
        raise argparse.ArgumentTypeError("must be above 0 and at most 10000")
    return value


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="payrelay's benchmark suite (docs/performance.md).",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes and durations (smoke)")
    parser.add_argument("--duration", type=_positive, help="measured seconds per run (30)")
    parser.add_argument("--warmup", type=_non_negative, help="warm-up seconds per run (10)")
    parser.add_argument("--concurrency", type=_positive, default=32, help="connections (32)")
    parser.add_argument("--threads", type=_positive, default=1, help="wrk threads (1)")
    parser.add_argument("--rounds", type=_positive, default=1, help="runs per comparison (1)")
    parser.add_argument(
        "--scenarios", type=_scenarios, default=SCENARIOS, help=f"{','.join(SCENARIOS)} or all"
    )
    parser.add_argument("--growth-sizes", type=_sizes, help="payments (0,1000000,5000000)")
    parser.add_argument("--statistics-size", type=_non_negative, help="payments (1000000)")
    parser.add_argument("--seed-days", type=_positive, default=30, help="seeded span (30 days)")
    parser.add_argument("--webhook-rate", type=_rate, default=200.0, help="webhooks/s (200)")
    parser.add_argument("--replay-keys", type=_positive, help="keys replayed (2000)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy on the API during create and on the worker during webhooks (extra runs)",
    )
    parser.add_argument(
        "--keep-databases", action="store_true", help="keep the scenarios' databases"
    )
    return parser


def config_from(arguments: argparse.Namespace) -> BenchConfig:
    defaults: dict[str, Any] = QUICK if arguments.quick else FULL

    def pick(name: str) -> Any:
        value = getattr(arguments, name)
        return defaults[name] if value is None else value

    return BenchConfig(
        scenarios=arguments.scenarios,
        duration=pick("duration"),
        warmup=pick("warmup"),
        concurrency=arguments.concurrency,
        threads=arguments.threads,
        rounds=arguments.rounds,
        growth_sizes=pick("growth_sizes"),
        statistics_size=pick("statistics_size"),
        seed_days=arguments.seed_days,
        webhook_rate=arguments.webhook_rate,
        replay_keys=pick("replay_keys"),
        out=arguments.out.resolve(),
        quick=arguments.quick,
        profile=arguments.profile,
        keep_databases=arguments.keep_databases,
        database_url=os.environ.get("PAYRELAY_DATABASE_URL") or None,
    )


def _stamp(config: BenchConfig) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    return f"{stamp}-quick" if config.quick else stamp


async def _run_scenario(context: RunContext, name: str) -> ScenarioResult:
    say(f"scenario {name}")
    started = time.monotonic()
    try:
        result = await RUNNERS[name](context)
    except Exception as exc:
        log = context.workdir / "logs" / f"{name}-error.txt"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(traceback.format_exc())
        say(f"scenario {name} failed: {type(exc).__name__}: {exc} (traceback in {log})")
        result = ScenarioResult(name, name, error=f"{type(exc).__name__}: {exc}")
    result.seconds = round(time.monotonic() - started, 1)
    say(f"scenario {name} done in {result.seconds:.0f}s")
    return result


def _config_record(config: BenchConfig) -> dict[str, Any]:
    record = {
        name: getattr(config, name)
        for name in BenchConfig.__dataclass_fields__
        if name not in ("database_url", "out")
    }
    record["out"] = str(config.out)
    return record


def _header(config: BenchConfig, wrk: str, stem: str) -> dict[str, Any]:
    return {
        "schema": 1,
        "stem": stem,
        "kind": config.run_kind,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(),
        "tools": {"wrk": wrk_version(wrk)},
        "config": _config_record(config),
        "payrelay_environment": environment_note(),
    }


async def _run_all(
    config: BenchConfig, wrk: str, stem: str, header: dict[str, Any]
) -> dict[str, ScenarioResult]:
    """Every chosen scenario on one PostgreSQL server; the logs are kept if anything failed."""
    workdir = Path(tempfile.mkdtemp(prefix="payrelay-bench-"))
    postgres = Postgres(config.database_url, workdir / "pg")
    receiver = CallbackReceiver()
    results: dict[str, ScenarioResult] = {}
    clean = False
    try:
        await asyncio.to_thread(postgres.start)
        await receiver.start()
        context = RunContext(config, postgres, wrk, workdir, receiver, stem)
        context.postmaster_pid = await postgres.postmaster_pid()
        header["postgres"] = await postgres.describe()
        await prepare_template(context)
        for name in config.scenarios:
            results[name] = await _run_scenario(context, name)
        clean = all(result.error is None for result in results.values())
    finally:
        await receiver.stop()
        if not config.keep_databases:
            await _quietly(postgres.drop_database(TEMPLATE))
        await asyncio.to_thread(postgres.stop)
        if clean:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"logs kept in {workdir}")
    return results


async def run_suite(config: BenchConfig) -> Path:
    wrk = ensure_wrk()
    config.out.mkdir(parents=True, exist_ok=True)
    stem = _stamp(config)
    header = _header(config, wrk, stem)
    started = time.monotonic()
    results = await _run_all(config, wrk, stem, header)
    header["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    header["seconds"] = round(time.monotonic() - started, 1)
    header["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    drawn = charts.draw(results, config.out, stem)
    if not charts.available():
        say("no charts: install matplotlib (pip install matplotlib) for the PNG charts")
    doc = report.document(header, results, judge(results, config), drawn)
    json_path = config.out / f"{stem}.json"
    report.write_json(json_path, doc)
    (config.out / f"{stem}.md").write_text(report.markdown(doc, results))
    say(f"wrote {json_path} and {json_path.with_suffix('.md')}")
    return json_path


async def _quietly(work: Any) -> None:
    try:
        await work
    except Exception as exc:  # cleanup must not hide the run's outcome
        say(f"cleanup: {type(exc).__name__}: {exc}")


def main(argv: list[str] | None = None) -> None:
    arguments = parser().parse_args(argv)
    config = config_from(arguments)
    try:
        asyncio.run(run_suite(config))
    except BenchError as exc:
        sys.stderr.write(f"bench: {exc}\n")
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        sys.stderr.write("bench: interrupted\n")
        raise SystemExit(130) from None
