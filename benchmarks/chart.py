"""The PNG: ratios against every anchor, and the scaling curves (log-log).

Reads the JSON record (``report.to_json``), so a saved run can be redrawn:
``python -m benchmarks.chart benchmarks/results/latest.json out.png``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ("draw",)

_COLORS = {
    "asyncsignal": "tab:blue",
    "django": "tab:green",
    "blinker": "tab:orange",
    "psygnal": "tab:purple",
    "aiosignal": "tab:brown",
}
#: Bar colours by target verdict; a moonshot is a stretch goal, not a target.
_VERDICT_COLORS = {
    "PASS": "tab:green",
    "FAIL": "tab:red",
    "moonshot PASS": "yellowgreen",
    "moonshot FAIL": "sandybrown",
    None: "tab:gray",
}
_VERDICT_LABELS = {
    "PASS": "PERF.md target met",
    "FAIL": "PERF.md target missed",
    "moonshot PASS": "moonshot met",
    "moonshot FAIL": "moonshot missed",
    None: "no target (for reference)",
}


def _ratio_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for workload in data["workloads"]:
        if workload["curve"] is not None:
            continue
        targets = {t["anchor"]: t for t in workload["targets"]}
        for anchor, ratio in workload["ratios"].items():
            target = targets.get(anchor)
            verdict = None
            if target and target["verdict"] in ("PASS", "FAIL"):
                moonshot = "moonshot " if target["label"] == "moonshot" else ""
                verdict = moonshot + target["verdict"]
            rows.append(
                {
                    "workload": workload["id"],
                    "label": f"{workload['id']} vs {anchor}",
                    "ratio": ratio,
                    "target": target,
                    "verdict": verdict,
                }
            )
    return rows


def _draw_ratios(axes: Any, rows: list[dict[str, Any]]) -> None:
    from matplotlib.patches import Patch

    positions = list(range(len(rows)))[::-1]
    previous = None
    for y, row in zip(positions, rows, strict=True):
        ratio, target = row["ratio"], row["target"]
        if previous is not None and row["workload"] != previous:
            axes.axhline(y + 0.5, color="gray", linewidth=0.5, alpha=0.6)
        previous = row["workload"]
        color = _VERDICT_COLORS[row["verdict"]]
        axes.barh(y, ratio["median"], color=color, alpha=0.85, height=0.7)
        axes.errorbar(
            ratio["median"],
            y,
            xerr=[[ratio["median"] - ratio["q1"]], [ratio["q3"] - ratio["median"]]],
            color="black",
            capsize=2,
            linewidth=0.8,
        )
        # Right of the bar, its error bar and its target tick.
        right = max(ratio["q3"], target["ratio"] if target else 0)
        axes.text(
            right * 1.12,
            y,
            f"{ratio['median']:.3g}\N{MULTIPLICATION SIGN}",
            va="center",
            fontsize=7,
        )
        if target:
            axes.plot(
                target["ratio"], y, marker="|", color="black", markersize=12, mew=2
            )
    axes.set_yticks(positions, [row["label"] for row in rows], fontsize=8)
    axes.set_ylim(-0.7, len(rows) - 0.3)
    shown = dict.fromkeys(row["verdict"] for row in rows)
    handles = [Patch(color=_VERDICT_COLORS[v], label=_VERDICT_LABELS[v]) for v in shown]
    axes.legend(handles=handles, loc="lower right", fontsize=8)
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8, linestyle="--")
    axes.set_xlabel(
        "asyncsignal ÷ contender (median of paired ratios, log scale; "
        "< 1 = asyncsignal faster/smaller)"
    )
    axes.set_title(
        "asyncsignal ÷ each contender, same run (black tick: PERF.md target)",
        fontsize=10,
    )
    axes.grid(axis="x", which="both", alpha=0.3)


def _curve(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [w for w in data["workloads"] if w["curve"] == name]


def _draw_curve(axes: Any, points: list[dict[str, Any]], title: str, unit: str) -> None:
    if not points:
        axes.set_visible(False)
        return
    for contender in points[0]["contenders"]:
        xs, medians, lows, highs = [], [], [], []
        for point in points:
            outcome = point["contenders"].get(contender, {})
            if outcome.get("median") is None:
                continue
            xs.append(point["x"])
            medians.append(outcome["median"])
            lows.append(outcome["median"] - outcome["q1"])
            highs.append(outcome["q3"] - outcome["median"])
        if xs:
            axes.errorbar(
                xs,
                medians,
                yerr=[lows, highs],
                marker="o",
                capsize=3,
                label=contender,
                color=_COLORS.get(contender),
            )
    axes.set_xscale("log")
    axes.set_yscale("log")
    connect = points[0]["curve"] == "connect+disconnect"
    axes.set_xlabel("registrations" if connect else "receivers")
    axes.set_ylabel(unit)
    axes.set_title(title, fontsize=10)
    axes.grid(which="both", alpha=0.3)


def _guides(axes: Any, points: list[dict[str, Any]]) -> None:
    """Dashed O(n) and O(n²) slopes through the first point, for reading slopes."""
    first = points[0]
    base = [o["median"] for o in first["contenders"].values() if o.get("median")]
    if not base or len(points) < 2:
        return
    x0, y0 = first["x"], min(base)
    x1 = points[-1]["x"]
    axes.plot([x0, x1], [y0, y0 * x1 / x0], "k--", linewidth=0.7, label="O(n) slope")
    axes.plot(
        [x0, x1], [y0, y0 * (x1 / x0) ** 2], "k:", linewidth=0.9, label="O(n²) slope"
    )


def _mark_cap(axes: Any, points: list[dict[str, Any]], capped: str) -> None:
    """Label the last measured point of a contender whose curve stops early."""
    measured = [
        p for p in points if p["contenders"].get(capped, {}).get("median") is not None
    ]
    if measured and measured[-1] is not points[-1]:
        last = measured[-1]
        axes.annotate(
            f"{capped}: capped here (O(n²))",
            (last["x"], last["contenders"][capped]["median"]),
            textcoords="offset points",
            xytext=(8, -4),
            fontsize=8,
        )


def _draw_memory(axes: Any, data: dict[str, Any]) -> None:
    memory = [w for w in data["workloads"] if w["id"] == "MEM"]
    if not memory:
        axes.set_visible(False)
        return
    names, values = [], []
    for name, outcome in memory[0]["contenders"].items():
        if outcome.get("median") is not None:
            names.append(name)
            values.append(outcome["median"])
    bars = axes.bar(names, values, color=[_COLORS.get(n, "tab:gray") for n in names])
    axes.bar_label(bars, fmt="%.0f B", fontsize=8)
    axes.set_ylabel("bytes per receiver")
    axes.set_title(memory[0]["title"], fontsize=10)
    axes.grid(axis="y", alpha=0.3)


def draw(data: dict[str, Any], path: Path) -> None:
    """Write the chart of one run's JSON record to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _ratio_rows(data)
    ratio_height = max(2.5, 0.24 * len(rows) + 1.2)
    figure = plt.figure(figsize=(14, ratio_height + 10), layout="constrained")
    grid = figure.add_gridspec(3, 2, height_ratios=[ratio_height, 5, 5])
    meta = data["meta"]
    figure.suptitle(
        f"asyncsignal vs anchors · {meta['python']} · {meta['platform']} · "
        f"{meta['cpus']} CPUs · {meta['timestamp']} ({meta['mode']} run)",
        fontsize=11,
    )
    ratio_axes = figure.add_subplot(grid[0, :])
    if rows:
        _draw_ratios(ratio_axes, rows)
    else:
        ratio_axes.set_visible(False)

    send_axes = figure.add_subplot(grid[1, 0])
    _draw_curve(
        send_axes, _curve(data, "send"), "send: cost vs sync receivers", "µs per call"
    )
    asend_axes = figure.add_subplot(grid[1, 1])
    _draw_curve(
        asend_axes,
        _curve(data, "asend"),
        "asend (asyncio): cost vs async receivers that never suspend",
        "µs per call",
    )
    connect_axes = figure.add_subplot(grid[2, 0])
    points = _curve(data, "connect+disconnect")
    _draw_curve(
        connect_axes,
        points,
        f"connect + disconnect n receivers (total); Django capped at "
        f"{meta['django_cap']:,} (O(n²))",
        "ms total",
    )
    if points:
        _guides(connect_axes, points)
        _mark_cap(connect_axes, points, "django")
    for axes in (send_axes, asend_axes, connect_axes):
        if axes.get_visible():
            axes.legend(fontsize=8)
    _draw_memory(figure.add_subplot(grid[2, 1]), data)
    figure.savefig(path, format="png", dpi=90)
    plt.close(figure)


if __name__ == "__main__":
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    draw(json.loads(source.read_text()), target)
