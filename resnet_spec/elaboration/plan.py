"""The network-wide numbers the stage loop needs before it starts: each stage's stride and
dilations, and each block's stochastic-depth rate (the rule timm's `make_blocks` applies)."""

from __future__ import annotations

from dataclasses import dataclass

from resnet_spec.elaboration.context import Ctx
from resnet_spec.errors import SchemaError
from resnet_spec.spec.schema import PoolKind, Spec


@dataclass(frozen=True)
class StagePlan:
    """Where a stage's first block strides and how its 3x3 convs dilate."""

    stride: int
    dilation: int
    first_dilation: int
    """Dilation of the first 3x3 of the stage's first block: the previous stage's, as
    torchvision's `replace_stride_with_dilation` and timm's `first_dilation` have it."""


def stage_plans(ctx: Ctx) -> list[StagePlan]:
    """Each stage's stride and dilations: as the spec writes them, or as `output_stride` sets
    them (a located `SchemaError` where the two disagree)."""
    spec = ctx.spec
    if spec.output_stride is None:
        return _chain([(stage.stride, stage.dilation) for stage in spec.stages])
    # a dilation of 1 is no dilation (and what a resolved spec writes out): only more conflicts
    for i, stage in enumerate(spec.stages):
        if stage.dilation != 1:
            raise SchemaError("`dilation` and `output_stride` both set the stages' dilations",
                              ctx.source("stages", i, "dilation"), "remove one of them")
    return _chain(_trade_strides(ctx, spec.output_stride))


def _chain(settings: list[tuple[int, int]]) -> list[StagePlan]:
    plans, previous = [], 1
    for stride, dilation in settings:
        plans.append(StagePlan(stride, dilation, previous))
        previous = dilation
    return plans


def _trade_strides(ctx: Ctx, target: int) -> list[tuple[int, int]]:
    """timm's rule: once the network strides its input by `target`, each later stage's stride
    becomes dilation (multiplying the running dilation by it) and the stage strides by 1."""
    stem = ctx.spec.stem
    net = stem.stride * (1 if stem.pool is PoolKind.none else 2)
    dilation, settings = 1, []
    for stage in ctx.spec.stages:
        if net >= target:
            dilation *= stage.stride
            settings.append((1, dilation))
        else:
            net *= stage.stride
            settings.append((stage.stride, dilation))
    if net != target:
        raise _unreachable(ctx, net, target)
    return settings


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


def _unreachable(ctx: Ctx, net: int, target: int) -> SchemaError:
    loc = ctx.source("output_stride")
    if net < target:
        return SchemaError(
            f"the stem and stages stride the input by only {net} in all, less than "
            f"`output_stride` {target}", loc, "remove `output_stride`, or stride more")
    return SchemaError(
        f"the strides pass `output_stride` {target} without meeting it (they reach {net}); it "
        "can only turn whole strides after it into dilation", loc,
        "use an output_stride that the stem and the stages' strides reach")
