"""The stage loop: each stage's blocks, numbered network-wide as timm's `make_blocks` does, each
built by the builder its `block.kind` registers, with its shortcut's builder."""

from __future__ import annotations

from resnet_spec import limits
from resnet_spec.elaboration.blocks import BLOCKS, BlockBuilder, inner_width
from resnet_spec.elaboration.context import BlockCtx, Ctx, Cursor
from resnet_spec.elaboration.plan import StagePlan
from resnet_spec.elaboration.registry import lookup
from resnet_spec.elaboration.shortcuts import SHORTCUTS
from resnet_spec.errors import LimitError, Loc, Note
from resnet_spec.ir import BlockInfo, Scope, StageInfo
from resnet_spec.origin import blamed
from resnet_spec.schema import BlockSpec


def build_stage(ctx: Ctx, index: int, x: Cursor, plan: StagePlan, rates: list[float],
                builder: BlockBuilder) -> Cursor:
    """Stage `index` (0-based) as `layer{index + 1}`; its output is tapped as `stage{n}`."""
    stage = ctx.spec.stages[index]
    block = ctx.spec.stage_block(index)
    loc = ctx.source("stages", index)
    info = StageInfo(name=f"layer{index + 1}", kind="stage", loc=loc, depth=stage.depth,
                     width=stage.width, stride=plan.stride, dilation=plan.dilation,
                     in_shape=x.shape)
    _check_channels(block, stage.width, *blamed(ctx.spec.source, "channel_limit", loc, index))
    start = len(ctx.added)
    with ctx.at(loc=loc):
        for j in range(stage.depth):
            x = _build_block(ctx, builder, _block_ctx(ctx, index, j, plan, rates[j]), x)
            info.blocks.append(f"{info.name}.{j}")
    info.nodes = ctx.since(start)
    info.out_shape = x.shape
    ctx.graph.stages.append(info)
    ctx.taps[f"stage{index + 1}"] = x
    return x


def block_builder(ctx: Ctx, index: int) -> BlockBuilder:
    """Stage `index`'s block builder; its shortcut policy must have one too (else a located
    `UnsupportedError`)."""
    spec, stage = ctx.spec, ctx.spec.stages[index]
    kind = spec.stage_block(index).kind
    builder = lookup(BLOCKS, kind, "the block kind", ctx.key(*ctx.block_field(index, "kind")))
    shortcut_at = ("stages", index, "shortcut") if stage.shortcut else ("shortcut",)
    lookup(SHORTCUTS, spec.stage_shortcut(index), "the shortcut", ctx.key(*shortcut_at))
    return builder


def _block_ctx(ctx: Ctx, index: int, j: int, plan: StagePlan, rate: float) -> BlockCtx:
    stage = ctx.spec.stages[index]
    name = f"layer{index + 1}"
    return BlockCtx(
        name=f"{name}.{j}", stage=name, stage_index=index, index=j,
        spec=ctx.spec.stage_block(index), policy=ctx.spec.stage_shortcut(index), width=stage.width,
        stride=plan.stride if j == 0 else 1, dilation=plan.dilation,
        first_dilation=plan.first_dilation if j == 0 else plan.dilation, drop_path=rate)


def _build_block(ctx: Ctx, builder: BlockBuilder, b: BlockCtx, x: Cursor) -> Cursor:
    start = len(ctx.added)
    ctx.block = b
    with ctx.at(scope=Scope(stage=b.stage, block=b.name, branch="main"), prefix=f"{b.name}."):
        out = builder(ctx, x)
    ctx.graph.blocks.append(BlockInfo(
        name=b.name, stage=b.stage, index=b.index, kind=b.spec.kind, policy=b.policy,
        shortcut=b.shortcut, stride=b.stride, width=b.width, inner=b.inner,  # type: ignore[arg-type]
        groups=b.spec.groups, in_shape=x.shape, out_shape=out.shape, loc=ctx.loc,
        nodes=ctx.since(start), input=x.node, output=out.node, dilation=b.dilation, se=b.se,
        drop_path=b.drop_path))
    ctx.block = None
    ctx.blocks_done += 1
    return out


def _check_channels(block: BlockSpec, width: int, loc: Loc | None,
                    notes: tuple[Note, ...] = ()) -> None:
    inner = inner_width(width, block)
    for what, channels in (("output", width * block.out_expansion), ("inner", inner)):
        if channels > limits.MAX_CHANNELS:
            raise LimitError(
                f"the blocks' {what} channels would be {channels}; the limit is "
                f"{limits.MAX_CHANNELS}", loc, notes=notes)
