"""PNG charts of a run with matplotlib (the optional `bench` extra): throughput, latency
percentiles, create latency against data size, the webhook backlog over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.results import LoadRun, ScenarioResult


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def draw(results: dict[str, ScenarioResult], out: Path, stem: str) -> list[str]:
    """The charts written (file names in `out`); none without matplotlib."""
    if not available():
        return []
    import matplotlib

    matplotlib.use("Agg")
    runs = [(name, run) for name, result in results.items() for run in result.runs]
    written: list[str] = []
    if runs:
        written.append(_throughput(runs, out / f"{stem}-throughput.png"))
        written.append(_latency(runs, out / f"{stem}-latency.png"))
    growth = results.get("growth")
    if growth is not None and growth.metrics.get("steps"):
        written.append(_growth(growth.metrics["steps"], out / f"{stem}-growth.png"))
    webhooks = results.get("webhooks")
    if webhooks is not None and webhooks.metrics.get("backlog_samples"):
        written.append(_backlog(webhooks.metrics, out / f"{stem}-webhooks.png"))
    return written


def _label(scenario: str, run: LoadRun) -> str:
    return run.label if run.label.startswith(scenario) else f"{scenario}: {run.label}"


def _throughput(runs: list[tuple[str, LoadRun]], path: Path) -> str:
    import matplotlib.pyplot as plt

    labels = [_label(name, run) for name, run in runs]
    values = [run.throughput_rps for _, run in runs]
    colors = ["#9aa5b1" if run.system == "reference" else "#2f6f9f" for _, run in runs]
    figure, axes = plt.subplots(figsize=(9, 0.45 * len(runs) + 1.5))
    bars = axes.barh(labels, values, color=colors)
    axes.bar_label(bars, fmt="%.0f", padding=3, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("requests per second (grey: reference app)")
    axes.set_title("Throughput")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path.name


def _latency(runs: list[tuple[str, LoadRun]], path: Path) -> str:
    import matplotlib.pyplot as plt

    labels = [_label(name, run) for name, run in runs]
    figure, axes = plt.subplots(figsize=(9, 0.6 * len(runs) + 1.5))
    height = 0.25
    for offset, (key, color) in enumerate(
        (("p50", "#8fbf8f"), ("p90", "#e0b050"), ("p99", "#c05050"))
    ):
        positions = [index + (offset - 1) * height for index in range(len(runs))]
        values = [max(run.latency_ms.get(key, 0.0), 0.01) for _, run in runs]
        axes.barh(positions, values, height=height, color=color, label=key)
    axes.set_yticks(range(len(runs)), labels)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("milliseconds (log scale)")
    axes.set_title("Latency percentiles")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path.name


def _growth(steps: list[dict[str, Any]], path: Path) -> str:
    import matplotlib.pyplot as plt

    labels = [f"{step['payments']:,}" for step in steps]
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(labels, [step["p50_ms"] for step in steps], marker="o", label="p50")
    axes.plot(labels, [step["p99_ms"] for step in steps], marker="o", label="p99")
    axes.set_xlabel("existing payments")
    axes.set_ylabel("create latency, ms")
    axes.set_ylim(bottom=0)
    axes.set_title("Create latency as the database grows")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path.name


def _backlog(metrics: dict[str, Any], path: Path) -> str:
    import matplotlib.pyplot as plt

    samples = metrics["backlog_samples"]
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot([t for t, _ in samples], [b for _, b in samples], color="#2f6f9f")
    axes.set_xlabel("seconds into the run")
    axes.set_ylabel("webhooks + callbacks queued")
    axes.set_ylim(bottom=0)
    latency = metrics["callback_latency_ms"]
    axes.set_title(
        f"Backlog at {metrics['rate']:.0f} webhooks/s "
        f"(callback p50 {latency.get('p50', 0):.0f} ms, p99 {latency.get('p99', 0):.0f} ms)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path.name
