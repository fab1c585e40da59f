"""The network-wide numbers the stage loop needs before it starts: each stage's stride and
dilations, and each block's stochastic-depth rate (the rule timm's `make_blocks` applies)."""

from __future__ import annotations

from dataclasses import dataclass

from resnet_spec.schema import Spec


@dataclass(frozen=True)
class StagePlan:
    """Where a stage's first block strides and how its 3x3 convs dilate."""

    stride: int
    dilation: int
    first_dilation: int
    """Dilation of the first 3x3 of the stage's first block: the previous stage's, as
    torchvision's `replace_stride_with_dilation` and timm's `first_dilation` have it."""


def stage_plans(spec: Spec) -> list[StagePlan]:
    """Each stage's stride and dilations as the spec writes them."""
    plans, previous = [], 1
    for stage in spec.stages:
        plans.append(StagePlan(stage.stride, stage.dilation, previous))
        previous = stage.dilation
    return plans


def drop_path_rates(spec: Spec) -> list[list[float]]:
    """Each block's drop-path rate, stage by stage.

    The rate rises linearly with the block's index over the whole network, from 0 at the first
    block to the stage's `drop_path` at the last (timm's `drop_path_rate * i / (n - 1)`); a
    stage's own value scales that line for its blocks only, so `drop_path: 0` in one stage turns
    stochastic depth off there and leaves the others' rates as they were.
    """
    total = sum(stage.depth for stage in spec.stages)
    rates, index = [], 0
    for i, stage in enumerate(spec.stages):
        top = spec.stage_block(i).drop_path
        rates.append([top * _position(index + j, total) for j in range(stage.depth)])
        index += stage.depth
    return rates


def _position(index: int, total: int) -> float:
    """How far along the network block `index` sits: 0 for the first, 1 for the last (and for
    the one block of a one-block network, which is its last)."""
    return index / (total - 1) if total > 1 else 1.0
