"""A run's printed table and its JSON summary (medians and quartiles, no samples)."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any

from .harness import Outcome, Summary, summarize
from .workloads import OURS, Target, Workload

__all__ = ("DASH", "WorkloadResult", "number", "render", "to_json")

DASH = "\N{EN DASH}"
TIMES = "\N{MULTIPLICATION SIGN}"
_UNITS = {
    "µs": "µs per call",
    "ms": "ms total",
    "B": "bytes per receiver",
    "B/sub": "bytes per subscription",
}


@dataclass
class WorkloadResult:
    workload: Workload
    outcomes: dict[str, Outcome]
    seconds: float

    def ratio(self, anchor: str, subject: str = OURS) -> Summary | None:
        """``subject`` (ours unless said) ÷ ``anchor``, paired round by round
        (both measured in turn)."""
        ours, theirs = self.outcomes.get(subject), self.outcomes.get(anchor)
        if ours is None or theirs is None or ours.error or theirs.error:
            return None
        # Same length unless one failed midway: pair the rounds both finished.
        paired = zip(ours.samples, theirs.samples, strict=False)
        pairs = [a / b for a, b in paired if b > 0]
        return summarize(pairs) if pairs else None

    def verdict(self, target: Target, judged: bool) -> str:
        """PASS or FAIL against ``target``; a dash when not judged (smoke)."""
        ratio = self.ratio(target.anchor, target.subject)
        if not judged:
            return DASH
        if ratio is None:
            return "n/a"
        return "PASS" if ratio.median <= target.ratio else "FAIL"


def number(value: float) -> str:
    """Three significant digits or so, wide numbers with separators."""
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    return f"{value:.{1 if size >= 10 else 2 if size >= 1 else 3}f}"


def _spread(summary: Summary) -> str:
    return f"[{number(summary.q1)} {DASH} {number(summary.q3)}]"


def _cell(outcome: Outcome | None) -> str:
    """Median and quartiles, or why there are none."""
    if outcome is None:
        return DASH
    if outcome.error is not None:
        return "ERROR  " + outcome.error.strip().splitlines()[-1][:70]
    if outcome.skipped is not None or not outcome.samples:
        return f"{DASH}  ({outcome.skipped or 'no samples'})"
    summary = summarize(outcome.samples)
    return f"{number(summary.median):>9}  {_spread(summary):<20}"


def _workload_lines(result: WorkloadResult, judged: bool) -> list[str]:
    workload = result.workload
    where = "" if workload.backend == "sync" else f", {workload.backend}"
    lines = [f"{workload.id} · {workload.title} ({_UNITS[workload.unit]}{where})"]
    # The rows show ours against each anchor; a variant's targets are listed
    # under "Targets".
    targets = {t.anchor: t for t in workload.targets if t.subject == OURS}
    for name in workload.contenders:
        row = f"  {name:<24}{_cell(result.outcomes.get(name))}"
        ratio = result.ratio(name) if name != OURS else None
        if ratio is not None:
            row += f"{number(ratio.median) + TIMES:>9}  {_spread(ratio):<20}"
        target = targets.get(name)
        if target is not None:
            label = f" ({target.label})" if target.label else ""
            check = f"≤ {target.ratio:g}{TIMES}"
            row = f"{row:<89}{check:<9}{result.verdict(target, judged)}{label}"
        lines.append(row.rstrip())
    if workload.note:
        lines.append(f"  note: {workload.note}")
    return lines


def _curve_lines(points: list[WorkloadResult]) -> list[str]:
    workload = points[0].workload
    names = workload.contenders
    anchors = [n for n in names if n != OURS]
    lines = [f"Scaling: {workload.curve} ({_UNITS[workload.unit]}, median)"]
    lines.append(
        f"  {'n':>9}"
        + "".join(f"{n:>14}" for n in names)
        + "".join(f"{'ours ÷ ' + a:>16}" for a in anchors)
    )
    for point in points:
        row = f"  {point.workload.x:>9,}"
        for name in names:
            samples = point.outcomes[name].samples if name in point.outcomes else []
            row += f"{number(summarize(samples).median) if samples else DASH:>14}"
        for anchor in anchors:
            ratio = point.ratio(anchor)
            row += f"{number(ratio.median) + TIMES if ratio else DASH:>16}"
        lines.append(row)
    skipped = {o.skipped for p in points for o in p.outcomes.values() if o.skipped}
    return lines + [f"  {DASH} {why}" for why in sorted(skipped)]


def _target_column() -> str:
    return "3.12+" if sys.version_info >= (3, 12) else "3.10 and 3.11"


def render(results: list[WorkloadResult], meta: dict[str, Any]) -> str:
    """The whole printed report."""
    judged = meta["mode"] != "smoke"
    lines = [
        f"asyncsignal benchmarks ({meta['mode']} run) · {meta['python']} · "
        f"{meta['platform']} · {meta['cpus']} CPUs · {meta['timestamp']}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"targets: PERF.md's column for Python {_target_column()} (each Python "
        "present gets its own run and table: python3 dev.py bench)",
    ]
    if not judged:
        lines.append(
            "SMOKE RUN: one cold call per contender at tiny sizes; it checks that "
            "every workload runs, its numbers mean nothing and are not judged."
        )
    quartiles = f"[q1 {DASH} q3]"
    lines += [
        f"Median {quartiles} over {meta['call_rounds']} rounds per call workload, "
        f"{meta['total_rounds']} per one-shot (memory {meta['memory_rounds']}); "
        "ratio = asyncsignal ÷ contender, paired round by round.",
        "",
        f"  {'contender':<24}{'median':>9}  {quartiles:<20}{'ours ÷ it':>9}  "
        f"{quartiles:<20} {'target':<9}result",
    ]
    curves: dict[str, list[WorkloadResult]] = {}
    for result in results:
        if result.workload.curve is None:
            lines += ["", *_workload_lines(result, judged)]
        else:
            curves.setdefault(result.workload.curve, []).append(result)
    for points in curves.values():
        lines += ["", *_curve_lines(points)]
    checks = [(r, t) for r in results for t in r.workload.targets]
    if checks and judged:
        lines += ["", "Targets (asyncsignal ÷ anchor, median of paired ratios):"]
        for result, target in checks:
            ratio = result.ratio(target.anchor, target.subject)
            measured = f"{number(ratio.median)}{TIMES}" if ratio else "n/a"
            label = f" ({target.label})" if target.label else ""
            subject = "" if target.subject == OURS else f"{target.subject} "
            versus = f"{subject}vs {target.anchor}"
            lines.append(
                f"  {result.verdict(target, judged):<5} {result.workload.id:<9} "
                f"{versus:<27}{measured:>9}  "
                f"target ≤ {target.ratio:g}{TIMES}{label}"
            )
        counted = [(r, t) for r, t in checks if not t.label]
        passed = sum(r.verdict(t, judged) == "PASS" for r, t in counted)
        lines.append(f"  {passed} of {len(counted)} targets met (moonshots aside)")
    errors = [
        f"{r.workload.id} / {name}"
        for r in results
        for name, o in r.outcomes.items()
        if o.error
    ]
    if errors:
        lines += ["", "ERRORS (tracebacks on stderr): " + ", ".join(errors)]
    return "\n".join(lines)


def _round(summary: Summary) -> dict[str, float]:
    return {key: float(f"{value:.4g}") for key, value in asdict(summary).items()}


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    if outcome.error is not None:
        return {"error": outcome.error.strip().splitlines()[-1]}
    if outcome.skipped is not None or not outcome.samples:
        return {"skipped": outcome.skipped or "no samples"}
    data = _round(summarize(outcome.samples))
    data["n"] = len(outcome.samples)
    return data


def to_json(results: list[WorkloadResult], meta: dict[str, Any]) -> dict[str, Any]:
    """The run's summary: per contender median, quartiles and sample count;
    per anchor the paired ratio; per target its verdict (read by ``chart.py``)."""
    judged = meta["mode"] != "smoke"
    workloads = []
    for result in results:
        workload = result.workload
        ratios = {
            name: _round(ratio)
            for name in workload.contenders
            if name != OURS and (ratio := result.ratio(name)) is not None
        }
        workloads.append(
            {
                "id": workload.id,
                "title": workload.title,
                "unit": workload.unit,
                "backend": workload.backend,
                "curve": workload.curve,
                "x": workload.x or None,
                "seconds": round(result.seconds, 1),
                "contenders": {
                    name: _outcome_json(outcome)
                    for name, outcome in result.outcomes.items()
                },
                "ratios": ratios,
                "targets": [
                    {
                        "anchor": target.anchor,
                        "subject": target.subject,
                        "ratio": target.ratio,
                        "label": target.label or None,
                        "verdict": result.verdict(target, judged) if judged else None,
                    }
                    for target in workload.targets
                ],
            }
        )
    return {"meta": meta, "workloads": workloads}
