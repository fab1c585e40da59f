"""RegNet's stage generator (Radosavovic et al. 2020, "Designing Network Design Spaces"): the
quantized linear rule that turns six numbers into explicit stages.

Block j of `depth` gets the continuous width u_j = w0 + wa × j; its exponent s_j =
round(log(u_j / w0) / log(wm)) and its width w0 × wm^s_j, rounded to a multiple of `quant`
(8). Consecutive blocks of equal width form a stage. Each stage's inner width (width ×
bottleneck ratio) is then rounded to a multiple of its group width (at most the inner width),
and the stage width follows from it, so that every grouped conv divides evenly. The arithmetic
is timm's `generate_regnet` and `adjust_widths_groups_comp`, so its RegNets come out the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RegNetStage:
    depth: int
    width: int
    group_width: int


def regnet_stages(depth: int, w0: int, wa: float, wm: float, group_width: int,
                  bottleneck_ratio: float = 1.0, quant: int = 8) -> list[RegNetStage]:
    """The stages the rule gives, in order."""
    widths = []
    for j in range(depth):
        exponent = _round_half_even(math.log((w0 + wa * j) / w0) / math.log(wm))
        widths.append(int(_round_half_even(w0 * wm**exponent / quant) * quant))
    stages: list[list[int]] = []
    for width in widths:
        if stages and stages[-1][0] == width:
            stages[-1][1] += 1
        else:
            stages.append([width, 1])
    out = []
    for width, count in sorted(stages):  # timm orders them by width (torch.unique)
        inner = int(width * bottleneck_ratio)
        group = min(group_width, inner)
        inner = int(_round_half_even(inner / group) * group)
        out.append(RegNetStage(count, int(inner / bottleneck_ratio), group))
    return out


def _round_half_even(value: float) -> float:
    """torch.round's and Python's rounding (ties to even), which the published widths use."""
    return float(round(value))
