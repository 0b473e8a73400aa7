"""Turning outcomes into the printed table and the JSON record."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .harness import Outcome, Summary, summarize
from .workloads import OURS, Target, Workload

__all__ = ("DASH", "TargetCheck", "WorkloadResult", "number", "render", "to_json")

#: Shown where a contender does not take part, and in ranges.
DASH = "\N{EN DASH}"
TIMES = "\N{MULTIPLICATION SIGN}"

_UNITS = {"µs": "µs per call", "ms": "ms total", "B": "bytes per receiver"}


@dataclass
class WorkloadResult:
    workload: Workload
    outcomes: dict[str, Outcome]
    seconds: float

    def ratio(self, anchor: str) -> Summary | None:
        """Ours ÷ ``anchor``, paired round by round (both measured in turn)."""
        ours, theirs = self.outcomes.get(OURS), self.outcomes.get(anchor)
        if ours is None or theirs is None or not (ours.ok and theirs.ok):
            return None
        # Same length unless one failed midway: pair the rounds both finished.
        paired = zip(ours.samples, theirs.samples, strict=False)
        pairs = [a / b for a, b in paired if b > 0]
        return summarize(pairs) if pairs else None


@dataclass(frozen=True)
class TargetCheck:
    workload: Workload
    target: Target
    ratio: Summary | None
    #: False in smoke runs: one cold call per contender measures nothing.
    judged: bool = True

    @property
    def verdict(self) -> str:
        if not self.judged:
            return DASH
        if self.ratio is None:
            return "n/a"
        return "PASS" if self.ratio.median <= self.target.ratio else "FAIL"


def target_checks(
    results: list[WorkloadResult], judged: bool = True
) -> list[TargetCheck]:
    return [
        TargetCheck(r.workload, target, r.ratio(target.anchor), judged)
        for r in results
        for target in r.workload.targets
    ]


def number(value: float) -> str:
    """Three significant digits or so, wide numbers with separators."""
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _spread(summary: Summary) -> str:
    return f"[{number(summary.q1)} {DASH} {number(summary.q3)}]"


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else text


def _cell(outcome: Outcome | None) -> tuple[str, str]:
    if outcome is None:
        return DASH, ""
    if outcome.error is not None:
        return "ERROR", _first_line(outcome.error)[:70]
    if outcome.skipped is not None:
        return DASH, outcome.skipped
    if not outcome.samples:
        return DASH, "no samples"
    summary = summarize(outcome.samples)
    return number(summary.median), _spread(summary)


def _main_table(
    results: list[WorkloadResult], rounds_note: str, judged: bool
) -> list[str]:
    quartiles = f"[q1 {DASH} q3]"
    lines = [
        f"Median [interquartile range] over {rounds_note}; ratio = asyncsignal ÷ "
        "contender, paired round by round (same run). Target: PERF.md.",
        "",
        f"  {'contender':<24}{'median':>10}  {quartiles:<22}"
        f"{'ours ÷ it':>10}  {quartiles:<20}{'target':<9}result",
    ]
    for result in results:
        workload = result.workload
        unit = _UNITS[workload.unit]
        where = "" if workload.backend == "sync" else f", {workload.backend}"
        lines.append("")
        lines.append(f"{workload.id} · {workload.title} ({unit}{where})")
        targets = {t.anchor: t for t in workload.targets}
        for name in workload.contenders:
            outcome = result.outcomes.get(name)
            median, spread = _cell(outcome)
            row = f"  {name:<24}{median:>10}  "
            if median in (DASH, "ERROR"):
                lines.append(row + spread)
                continue
            row += f"{spread:<22}"
            ratio = result.ratio(name) if name != OURS else None
            if ratio is not None:
                row += f"{number(ratio.median) + TIMES:>10}  {_spread(ratio):<20}"
            target = targets.get(name)
            if target is not None:
                check = TargetCheck(workload, target, ratio, judged)
                label = f" ({target.label})" if target.label else ""
                row = row.ljust(2 + 24 + 10 + 2 + 22 + 10 + 2 + 20)
                row += f"≤ {target.ratio:g}{TIMES}".ljust(9) + check.verdict + label
            lines.append(row.rstrip())
        if workload.note:
            lines.append(f"  note: {workload.note}")
    return lines


def _curve_tables(results: list[WorkloadResult]) -> list[str]:
    curves: dict[str, list[WorkloadResult]] = {}
    for result in results:
        if result.workload.curve is not None:
            curves.setdefault(result.workload.curve, []).append(result)
    lines: list[str] = []
    for curve, points in curves.items():
        names = list(points[0].workload.contenders)
        unit = _UNITS[points[0].workload.unit]
        anchors = [n for n in names if n != OURS]
        lines += ["", f"Scaling: {curve} ({unit}, median)"]
        header = f"  {'n':>9}" + "".join(f"{n:>14}" for n in names)
        header += "".join(f"{'ours ÷ ' + a:>16}" for a in anchors)
        lines.append(header)
        for point in points:
            row = f"  {point.workload.x:>9,}"
            for name in names:
                row += f"{_cell(point.outcomes.get(name))[0]:>14}"
            for anchor in anchors:
                ratio = point.ratio(anchor)
                shown = number(ratio.median) + TIMES if ratio else DASH
                row += f"{shown:>16}"
            lines.append(row)
        capped = {o.skipped for p in points for o in p.outcomes.values() if o.skipped}
        lines += [f"  {DASH} {why}" for why in sorted(capped)]
    return lines


def render(results: list[WorkloadResult], meta: dict[str, Any]) -> str:
    """The whole printed report."""
    rows = [r for r in results if r.workload.curve is None]
    lines = [
        f"asyncsignal benchmarks ({meta['mode']} run) · {meta['python']} · "
        f"{meta['platform']} · {meta['cpus']} CPUs · {meta['timestamp']}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
    ]
    judged = meta["mode"] != "smoke"
    if not judged:
        lines.append(
            "SMOKE RUN: one cold call per contender at tiny sizes; it checks that "
            "every workload runs, its numbers mean nothing and are not judged."
        )
    rounds_note = (
        f"{meta['call_rounds']} rounds per call workload, "
        f"{meta['total_rounds']} per one-shot (memory {meta['memory_rounds']})"
    )
    if rows:
        lines += _main_table(rows, rounds_note, judged)
    lines += _curve_tables(results)
    checks = target_checks(results, judged)
    if checks and judged:
        lines += ["", "Targets (asyncsignal ÷ anchor, median of paired ratios):"]
        for check in checks:
            label = f" ({check.target.label})" if check.target.label else ""
            measured = f"{number(check.ratio.median)}{TIMES}" if check.ratio else "n/a"
            lines.append(
                f"  {check.verdict:<5} {check.workload.id:<8} "
                f"vs {check.target.anchor:<20} {measured:>9}  "
                f"target ≤ {check.target.ratio:g}{TIMES}{label}"
            )
        counted = [c for c in checks if not c.target.label]
        passed = sum(c.verdict == "PASS" for c in counted)
        lines.append(
            f"  {passed} of {len(counted)} targets met (moonshots not counted)"
        )
    errors = [
        f"{r.workload.id} / {name}"
        for r in results
        for name, o in r.outcomes.items()
        if o.error
    ]
    if errors:
        lines += ["", "ERRORS (tracebacks on stderr and in the JSON): "]
        lines.append("  " + ", ".join(errors))
    return "\n".join(lines)


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    data: dict[str, Any] = {
        "samples": outcome.samples,
        "calls_per_sample": outcome.calls_per_sample,
        "skipped": outcome.skipped,
        "error": outcome.error,
    }
    if outcome.samples:
        data.update(asdict(summarize(outcome.samples)))
    return data


def to_json(results: list[WorkloadResult], meta: dict[str, Any]) -> dict[str, Any]:
    """Everything measured, raw samples included (see ``chart.py`` for a reader)."""
    judged = meta["mode"] != "smoke"
    workloads = []
    for result in results:
        workload = result.workload
        ratios = {}
        for name in workload.contenders:
            ratio = result.ratio(name) if name != OURS else None
            if ratio is not None:
                ratios[name] = asdict(ratio)
        workloads.append(
            {
                "id": workload.id,
                "title": workload.title,
                "unit": workload.unit,
                "backend": workload.backend,
                "size": workload.size or None,
                "curve": workload.curve,
                "x": workload.x or None,
                "note": workload.note or None,
                "seconds": round(result.seconds, 2),
                "targets": [
                    {
                        "anchor": check.target.anchor,
                        "ratio": check.target.ratio,
                        "label": check.target.label or None,
                        "measured": check.ratio.median if check.ratio else None,
                        "verdict": check.verdict if judged else None,
                    }
                    for check in target_checks([result], judged)
                ],
                "contenders": {
                    name: _outcome_json(outcome)
                    for name, outcome in result.outcomes.items()
                },
                "ratios": ratios,
            }
        )
    return {"meta": meta, "workloads": workloads}
