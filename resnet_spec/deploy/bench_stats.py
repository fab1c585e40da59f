"""What `bench`'s timings say and what they do not: the spread of each figure, and a fastest
backend named only when it is faster beyond the noise.

Each backend's timed runs at a batch size are summarized by their minimum, quartiles, median and
maximum. Its **spread** is the interquartile range over the median, (q3 - q1) / median: the
middle half of the runs, so one stray run (a page fault, a timer tick) does not move it, while a
machine busy with other work does. A spread over `SPREAD_LIMIT` is warned about.

Two backends are **within the noise** of each other when their interquartile ranges overlap:
the faster's q3 is at or above the slower's q1. The middle halves of their runs then interleave,
and a rerun could swap their medians. The fastest backend at a batch is named only when every
other backend's q1 lies above its q3; otherwise the backends tied with it are listed, and none
is named. Nothing is named either when the load average exceeded the machine's cores during the
run: other processes then held the CPU, and every figure is suspect.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

SPREAD_LIMIT = 0.10
"""A figure whose interquartile range exceeds this share of its median is warned about."""


def summarize(seconds: Sequence[float]) -> dict[str, float]:
    """The timed runs of one backend at one batch (seconds) as milliseconds: min, q1, median,
    q3, max, and the spread; `runs` is their count."""
    ms = sorted(s * 1e3 for s in seconds)
    if not ms:
        raise ValueError("no timed runs")
    q1, q3 = (ms[0], ms[0]) if len(ms) == 1 else _quartiles(ms)
    median = statistics.median(ms)
    return {"min_ms": ms[0], "q1_ms": q1, "median_ms": median, "q3_ms": q3, "max_ms": ms[-1],
            "spread": (q3 - q1) / median if median > 0 else 0.0, "runs": len(ms)}


def _quartiles(ms: list[float]) -> tuple[float, float]:
    q1, _, q3 = statistics.quantiles(ms, n=4, method="inclusive")
    return q1, q3


def within_noise(faster: Mapping[str, float], slower: Mapping[str, float]) -> bool:
    """Whether two figures' interquartile ranges overlap (`faster` has the lower median)."""
    return slower["q1_ms"] <= faster["q3_ms"]


def leaders(figures: Mapping[str, Mapping[str, float]]) -> list[str]:
    """The backends (by name) that the timings cannot tell from the fastest at one batch, the
    one with the lowest median first; one name when it leads beyond the noise."""
    if not figures:
        return []
    ranked = sorted(figures, key=lambda name: figures[name]["median_ms"])
    best = figures[ranked[0]]
    return [name for name in ranked if within_noise(best, figures[name])]


def overloaded(load_averages: Sequence[float], cores: int) -> float | None:
    """The highest 1-minute load average seen, if it exceeded the machine's cores."""
    worst = max(load_averages, default=0.0)
    return worst if worst > cores else None


def judge(results: Mapping[str, Any], batches: Sequence[int], load_averages: Sequence[float],
          cores: int) -> dict[str, Any]:
    """For each batch the fastest backend (None unless it leads beyond the noise and the
    machine was not overloaded) and the backends within the noise of the lowest median; and
    the warnings, one line each."""
    fastest: dict[str, str | None] = {}
    tied: dict[str, list[str]] = {}
    warnings = []
    load = overloaded(load_averages, cores)
    if load is not None:
        warnings.append(f"the load average reached {load:.2f} on {cores} cores during the run: "
                        "other processes held the CPU, every figure is suspect and no fastest "
                        "is named; rerun on a quieter machine")
    wide = []
    for batch in map(str, batches):
        figures = {name: r["batches"][batch] for name, r in results.items()
                   if r.get("status") == "ok" and batch in r.get("batches", {})}
        wide += [f"{name} batch {batch} ({f['spread']:.0%})" for name, f in figures.items()
                 if f.get("spread", 0.0) > SPREAD_LIMIT]
        lead = leaders(figures)
        tied[batch] = lead
        fastest[batch] = lead[0] if len(lead) == 1 and load is None else None
    if wide:
        warnings.append(f"spread (interquartile range / median) over {SPREAD_LIMIT:.0%}: "
                        f"{', '.join(wide)}; rerun with more --runs or on a quieter machine")
    return {"fastest": fastest, "within_noise": tied, "warnings": warnings}
