"""A run's files: `<stem>.json` (everything measured) and `<stem>.md` (tables, verdicts, charts)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.results import LoadRun, ScenarioResult, Verdict

SERVER_PROCESSES = ("payrelay-api", "payrelay-worker", "reference", "postgres")


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def document(
    header: dict[str, Any],
    results: dict[str, ScenarioResult],
    verdicts: list[Verdict],
    charts: list[str],
) -> dict[str, Any]:
    return {
        **header,
        "scenarios": {name: asdict(result) for name, result in results.items()},
        "targets": [asdict(verdict) for verdict in verdicts],
        "charts": charts,
    }


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "not measured"}[met]


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _process_cells(run: LoadRun) -> str:
    cells = []
    for name in SERVER_PROCESSES:
        usage = run.processes.get(name)
        if usage is None:
            cells.append("–")
            continue
        memory = "" if usage.peak_memory_mb is None else f" / {usage.peak_memory_mb:,.0f} MB"
        queued = "" if usage.queued_percent is None else f" (q {usage.queued_percent:.0f}%)"
        cells.append(f"{usage.cpu_percent:.0f}%{queued}{memory}")
    wrk = run.processes.get("wrk") or run.processes.get("harness")
    cells.append("–" if wrk is None else f"{wrk.cpu_percent:.0f}%")
    return " | ".join(cells)


def runs_table(results: dict[str, ScenarioResult]) -> list[str]:
    lines = [
        "| scenario | run | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | CPU ms/req "
        "| api | worker | reference | postgres | load gen |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in results.items():
        for run in result.runs:
            latency = run.latency_ms
            lines.append(
                f"| {name} | {run.label} | {_number(run.throughput_rps)} "
                f"| {_number(latency.get('p50'), 2)} | {_number(latency.get('p90'), 2)} "
                f"| {_number(latency.get('p99'), 2)} | {_number(latency.get('max'), 2)} "
                f"| {run.error_total} | {_number(run.cpu_ms_per_request, 2)} "
                f"| {_process_cells(run)} |"
            )
    return lines


def _profile_line(profile: dict[str, Any]) -> str:
    if "error" in profile:
        return f"- profile: {profile['error']}"
    packages = ", ".join(
        f"{row['name']} {row['percent']}%" for row in profile["self_by_package"][:5]
    )
    return (
        f"- profile: [summary]({profile['summary']}), [flame graph]({profile['flamegraph']}); "
        f"{profile['samples']} samples, self time by package: {packages}"
    )


def _metric_lines(metrics: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in metrics.items():
        if key == "profile":
            lines.append(_profile_line(value))
            continue
        if key == "backlog_samples":
            value = f"{len(value)} samples (in the JSON)"
        elif isinstance(value, dict | list):
            value = json.dumps(value, default=str)
        lines.append(f"- `{key}`: {value}")
    return lines


def _waits_line(run: LoadRun) -> str | None:
    waits = run.database_waits
    if not waits or not waits.get("samples"):
        return None
    states = ", ".join(f"{what} {share}%" for what, share in waits["states"].items())
    line = (
        f"- {run.label}, database: {waits['mean_active_backends']} busy backends on average"
        f"{'; ' + states if states else ''}"
    )
    blocked = waits.get("lock_waits_by_statement") or {}
    if blocked:
        line += "; waiting for locks: " + ", ".join(f"`{query}…`" for query in blocked)
    return line


def markdown(doc: dict[str, Any], results: dict[str, ScenarioResult]) -> str:
    machine, postgres, config = doc["machine"], doc["postgres"], doc["config"]
    lines = [f"# payrelay benchmark {doc['stem']}", ""]
    if doc["kind"] == "quick":
        lines += [
            "> **Quick run (smoke test)**: tiny data sets and a few seconds per run, on a machine "
            "that may have been busy. These figures prove the harness works; they are not "
            "payrelay's performance.",
            "",
        ]
    lines += [
        f"Run {doc['started_at']} to {doc['finished_at']} ({doc['seconds']:.0f} s). "
        f"Machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs, "
        f"{machine['memory_gb']} GB, {machine['os']}, Python {machine['python']}; load average "
        f"{machine['load_average_at_start']} at the start, {doc['load_average_at_end']} at the "
        f"end. PostgreSQL {postgres.get('server_version')} ({postgres.get('kind')}), "
        f"shared_buffers {postgres.get('shared_buffers')}, synchronous_commit "
        f"{postgres.get('synchronous_commit')}. payrelay {machine['payrelay']} at "
        f"{machine['git']['commit'][:10]}{' (modified)' if machine['git']['dirty'] else ''}. "
        f"{doc['tools']['wrk']}.",
        "",
        f"Load: {config['concurrency']} connections from {config['threads']} wrk thread(s), "
        f"{config['warmup']} s warm-up then {config['duration']} s measured per run, "
        f"{config['rounds']} round(s).",
        "",
        "## Targets",
        "",
        "| target | requirement | measured | verdict |",
        "|---|---|---|---|",
    ]
    for verdict in doc["targets"]:
        note = f" ({verdict['note']})" if verdict["note"] else ""
        lines.append(
            f"| {verdict['target']} | {verdict['requirement']} | {verdict['measured']} "
            f"| {_verdict(verdict['met'])}{note} |"
        )
    lines += [
        "",
        "## Runs",
        "",
        "Process columns: CPU as a share of one core over the measured run, (q: time runnable "
        "but waiting for a core, high when the machine was busy with something else) / peak "
        "memory (PSS) of each process tree. CPU ms/req counts the server side only (payrelay or "
        "the reference, and PostgreSQL), not the load generator.",
        "",
        *runs_table(results),
        "",
    ]
    lines += [f"![{chart}]({chart})" for chart in doc["charts"]]
    for name, result in results.items():
        lines += ["", f"## {name}: {result.title}", ""]
        if result.error:
            lines += [f"**Failed**: {result.error}", ""]
        lines += _metric_lines(result.metrics)
        lines += [f"- note: {note}" for note in result.notes]
        for run in result.runs:
            waits = _waits_line(run)
            lines += [waits] if waits else []
            lines += [f"- {run.label}: {note}" for note in run.notes]
    return "\n".join(lines) + "\n"
