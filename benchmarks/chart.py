"""The PNG: ratios against every anchor, the scaling curves (log-log), memory.

Reads a run's JSON summary (``report.to_json``), so a saved run can be redrawn:
``python -m benchmarks.chart benchmarks/results/latest.json out.png``.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ("draw",)

TIMES = "\N{MULTIPLICATION SIGN}"

_COLORS = {
    "asyncsignal": "tab:blue",
    "django": "tab:green",
    "blinker": "tab:orange",
    "psygnal": "tab:purple",
}
#: Bar colour and legend by target verdict; a moonshot is a stretch goal.
_VERDICTS = {
    "PASS": ("tab:green", "target met"),
    "FAIL": ("tab:red", "target missed"),
    "moonshot PASS": ("yellowgreen", "moonshot met"),
    "moonshot FAIL": ("sandybrown", "moonshot missed"),
    None: ("tab:gray", "no target (for reference)"),
}
_CURVES = {
    "send": ("send: cost vs sync receivers", "µs per call"),
    "asend": ("asend (asyncio): async receivers that never suspend", "µs per call"),
    "connect+disconnect": ("connect + disconnect n receivers (total)", "ms total"),
}


def _ratio_rows(data: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any, Any]]:
    """(label, ratio, target, verdict) per workload and anchor, in table order."""
    rows = []
    for workload in data["workloads"]:
        if workload["curve"] is not None:
            continue
        # Ours against each anchor (a variant's targets are in the table).
        targets = {
            t["anchor"]: t
            for t in workload["targets"]
            if t.get("subject", "asyncsignal") == "asyncsignal"
        }
        for anchor, ratio in workload["ratios"].items():
            target = targets.get(anchor)
            verdict = target["verdict"] if target else None
            if verdict and target and target["label"] == "moonshot":
                verdict = f"moonshot {verdict}"
            rows.append((f"{workload['id']} vs {anchor}", ratio, target, verdict))
    return rows


def _draw_ratios(axes: Any, rows: list[tuple[str, dict[str, Any], Any, Any]]) -> None:
    from matplotlib.patches import Patch

    heights = range(len(rows), 0, -1)
    for y, (label, ratio, target, verdict) in zip(heights, rows, strict=True):
        if y < len(rows) and rows[len(rows) - y - 1][0].split()[0] != label.split()[0]:
            axes.axhline(y + 0.5, color="gray", linewidth=0.5)  # next workload
        median = ratio["median"]
        axes.barh(y, median, color=_VERDICTS[verdict][0], height=0.7)
        axes.errorbar(
            median,
            y,
            xerr=[[median - ratio["q1"]], [ratio["q3"] - median]],
            color="black",
            linewidth=0.8,
        )
        right = max(ratio["q3"], target["ratio"] if target else 0)
        axes.text(right * 1.12, y, f"{median:.3g}{TIMES}", va="center", fontsize=7)
        if target:
            axes.plot(target["ratio"], y, marker="|", color="black", ms=10, mew=2)
    axes.set_yticks(heights, [row[0] for row in rows], fontsize=7)
    shown = dict.fromkeys(row[3] for row in rows)
    axes.legend(
        handles=[Patch(color=_VERDICTS[v][0], label=_VERDICTS[v][1]) for v in shown],
        loc="lower right",
        fontsize=7,
    )
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8, linestyle="--")
    axes.set_xlabel("asyncsignal ÷ contender (log; < 1: asyncsignal faster/smaller)")
    axes.set_title("Paired ratios, same run (black tick: target)", fontsize=9)
    axes.grid(axis="x", which="both", alpha=0.3)


def _draw_curve(
    axes: Any, points: list[dict[str, Any]], curve: str, note: str = ""
) -> None:
    title, unit = _CURVES[curve]
    for contender in points[0]["contenders"]:
        xy = [
            (p["x"], p["contenders"][contender]["median"])
            for p in points
            if "median" in p["contenders"].get(contender, {})
        ]
        if xy:
            xs, ys = zip(*xy, strict=True)
            axes.plot(xs, ys, marker="o", label=contender, color=_COLORS.get(contender))
    if curve == "connect+disconnect" and len(points) > 1:
        # Dashed O(n) and dotted O(n²) slopes from the cheapest first point.
        x0, x1 = points[0]["x"], points[-1]["x"]
        y0 = min(o["median"] for o in points[0]["contenders"].values() if "median" in o)
        axes.plot([x0, x1], [y0, y0 * x1 / x0], "k--", lw=0.7, label="O(n)")
        axes.plot([x0, x1], [y0, y0 * (x1 / x0) ** 2], "k:", lw=0.9, label="O(n²)")
    axes.set(xscale="log", yscale="log", ylabel=unit)
    axes.set_xlabel("registrations" if curve == "connect+disconnect" else "receivers")
    axes.set_title(title + note, fontsize=9)
    axes.grid(which="both", alpha=0.3)
    axes.legend(fontsize=7)


def _draw_memory(
    axes: Any, workload: dict[str, Any], subscriptions: dict[str, Any] | None
) -> None:
    measured = {
        name: outcome["median"]
        for name, outcome in workload["contenders"].items()
        if "median" in outcome
    }
    title = workload["title"]
    ours = subscriptions["contenders"]["asyncsignal"] if subscriptions else {}
    if "median" in ours:
        measured["asyncsignal:\nsubscription"] = ours["median"]
        title = "memory per receiver (MEM) and per subscription (W10)"
    bars = axes.bar(
        list(measured),
        list(measured.values()),
        color=[_COLORS.get(name.split(":")[0], "tab:gray") for name in measured],
    )
    axes.bar_label(bars, fmt="%.0f B", fontsize=7)
    axes.tick_params(axis="x", labelsize=7)
    axes.set_ylabel("bytes per receiver (or subscription)")
    axes.set_title(title, fontsize=9)


def draw(data: dict[str, Any], path: Path) -> None:
    """Write the chart of one run's JSON summary to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    rows = _ratio_rows(data)
    height = 0.17 * len(rows) + 1.2
    figure = plt.figure(figsize=(11, height + 7), layout="constrained")
    grid = figure.add_gridspec(3, 2, height_ratios=[height, 3.5, 3.5])
    meta = data["meta"]
    figure.suptitle(
        f"asyncsignal vs anchors · {meta['python']} · {meta['cpus']} CPUs · "
        f"{meta['timestamp']} ({meta['mode']} run)",
        fontsize=10,
    )
    if rows:
        _draw_ratios(figure.add_subplot(grid[0, :]), rows)
    slots = iter([grid[1, 0], grid[1, 1], grid[2, 0]])
    for curve in _CURVES:
        points = [w for w in data["workloads"] if w["curve"] == curve]
        if points:
            cap = meta["django_cap"] if curve == "connect+disconnect" else 0
            note = f"; Django stops at {cap:,} (O(n²))" if cap else ""
            _draw_curve(figure.add_subplot(next(slots)), points, curve, note)
    by_id = {w["id"]: w for w in data["workloads"]}
    if "MEM" in by_id:
        _draw_memory(figure.add_subplot(grid[2, 1]), by_id["MEM"], by_id.get("W10-MEM"))
    # A 64-colour palette PNG: a quarter of the size, the same to the eye.
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)
    plt.close(figure)
    image = Image.open(buffer).convert("RGB").quantize(colors=64)
    image.save(path, format="png", optimize=True)


if __name__ == "__main__":
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    draw(json.loads(source.read_text(encoding="utf-8")), target)
