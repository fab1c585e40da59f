"""The variants of a sweep: each a list of `--set` overrides, numbered so that a shard
(`--shard I/N`: the variants whose number is I modulo N) is the same wherever it runs."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from resnet_spec.spec.regnet import regnet_stages

REGNET_STAGES = 4
"""Sampled RegNets must generate this many stages, as pycls's RegNet design spaces require."""


@dataclass(frozen=True)
class Variant:
    """One point of the space: its number and the overrides that make it from the base spec."""

    index: int
    overrides: tuple[str, ...]


class SpaceError(ValueError):
    """A `--grid`, `--space` or `--shard` that cannot be read; one line for the CLI."""


def parse_grid(items: Sequence[str]) -> list[tuple[str, list[str]]]:
    """`PATH=V1,V2,...` options as (path, values); values are YAML, split at top-level
    commas (`stem={kind: deep, width: 64},{kind: conv, width: 64}` has two)."""
    out = []
    for item in items:
        path, sep, values = item.partition("=")
        if not sep or not path.strip() or not values.strip():
            raise SpaceError(f"--grid {item!r}: expected PATH=V1,V2,... (e.g. "
                             "stages.2.depth=6,12,18)")
        out.append((path.strip(), _split_values(values)))
    return out


def _split_values(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [p for p in parts if p]


def grid_variants(grid: Sequence[tuple[str, list[str]]]) -> Iterator[Variant]:
    """Every combination of the grid's values, the last path varying fastest."""
    paths = [path for path, _ in grid]
    for index, values in enumerate(itertools.product(*(v for _, v in grid))):
        yield Variant(index, tuple(f"{p}={v}" for p, v in zip(paths, values, strict=True)))


def grid_size(grid: Sequence[tuple[str, list[str]]]) -> int:
    return math.prod(len(values) for _, values in grid)


@dataclass(frozen=True)
class RegNetRanges:
    """pycls's RegNet design space (Radosavovic et al. 2020): the ranges its sweeps sample."""

    depth: tuple[int, int] = (12, 28)
    w0: tuple[int, int] = (8, 256)
    wa: tuple[float, float] = (8.0, 256.0)
    wm: tuple[float, float] = (2.0, 3.0)
    group_width: tuple[int, int] = (8, 128)


def regnet_variants(samples: int, seed: int, ranges: RegNetRanges = RegNetRanges()
                    ) -> Iterator[Variant]:
    """`samples` RegNets: depth uniform, w0 log-uniform in multiples of 8, wa log-uniform in
    steps of 0.1, wm log-uniform in steps of 0.001, group width a power of 2 or log-uniform in
    multiples of 8 (pycls's distributions); a sample that does not generate 4 stages is drawn
    again. Variant i comes from its own generator seeded with (seed, i), so any shard draws
    the same variant i."""
    for index in range(samples):
        rng = random.Random(f"{seed}:{index}")
        while True:
            depth = rng.randint(*ranges.depth)
            w0 = int(_log_uniform(rng, *ranges.w0, 8))
            wa = round(_log_uniform(rng, *ranges.wa, 0.1), 1)
            wm = round(_log_uniform(rng, *ranges.wm, 0.001), 3)
            group_width = _power2_or_log_uniform(rng, *ranges.group_width, 8)
            if len(regnet_stages(depth, w0, wa, wm, group_width)) == REGNET_STAGES:
                break
        yield Variant(index, (f"regnet.depth={depth}", f"regnet.w0={w0}", f"regnet.wa={wa}",
                              f"regnet.wm={wm}", f"regnet.group_width={group_width}"))


def _log_uniform(rng: random.Random, low: float, high: float, step: float) -> float:
    """Log-uniform over (low - step', high], rounded up to a multiple of `step` (step' the
    smaller of step and low / 2): every multiple in [low, high] can come out."""
    bottom = math.log(low - min(step, low / 2))
    value = math.exp(rng.uniform(bottom, math.log(high)))
    return max(low, min(high, math.ceil(round(value / step, 9)) * step))


def _power2_or_log_uniform(rng: random.Random, low: int, high: int, step: int) -> int:
    """A power of 2 from [low, high] uniformly in its exponent; where that is `step` or more,
    a log-uniform multiple of `step` instead (the CDF stays log-linear)."""
    power = 2 ** rng.randint(int(math.log2(low)), int(math.log2(high)))
    if power < step:
        return power
    return int(_log_uniform(rng, max(low, step), high, min(high, step)))


def shard(variants: Iterator[Variant], part: int, parts: int) -> Iterator[Variant]:
    """The variants whose number is `part` modulo `parts` (`--shard part/parts`, 0-based)."""
    return (v for v in variants if v.index % parts == part)


def parse_shard(text: str | None) -> tuple[int, int]:
    if text is None:
        return 0, 1
    part, sep, parts = text.partition("/")
    if not sep or not part.isdigit() or not parts.isdigit() or not 0 <= int(part) < int(parts):
        raise SpaceError(f"--shard {text!r}: expected I/N with 0 <= I < N (e.g. 0/4)")
    return int(part), int(parts)
