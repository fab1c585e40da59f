"""The stage loop: each stage's blocks, numbered network-wide as timm's `make_blocks` does, each
built by its `block.kind`'s registration (`blocks.BLOCK_KINDS`), with its shortcut's builder."""

from __future__ import annotations

from resnet_spec import limits
from resnet_spec.elaboration.blocks import BlockKind, block_kind
from resnet_spec.elaboration.context import BlockCtx, Ctx, Cursor
from resnet_spec.elaboration.plan import StagePlan
from resnet_spec.elaboration.registry import lookup
from resnet_spec.elaboration.shortcuts import SHORTCUTS
from resnet_spec.errors import LimitError, Loc, Note
from resnet_spec.ir import BlockInfo, Scope, StageInfo
from resnet_spec.spec.schema import BlockSpec


def build_stage(ctx: Ctx, index: int, x: Cursor, plan: StagePlan, rates: list[float],
                kind: BlockKind) -> Cursor:
    """Stage `index` (0-based) as `layer{index + 1}`; its output is tapped as `stage{n}`."""
    stage = ctx.spec.stages[index]
    block = ctx.spec.stage_block(index)
    loc = ctx.source("stages", index)
    info = StageInfo(name=f"layer{index + 1}", kind="stage", loc=loc, depth=stage.depth,
                     width=stage.width, stride=plan.stride, dilation=plan.dilation,
                     in_shape=x.shape)
    # origin reads the block kinds' registrations, which import this module
    from resnet_spec.ir.origin import blamed

    _check_channels(kind, block, stage.width,
                    *blamed(ctx.spec.source, "channel_limit", loc, index))
    start = len(ctx.added)
    with ctx.at(loc=loc):
        for j in range(stage.depth):
            x = _build_block(ctx, kind, _block_ctx(ctx, kind, index, j, plan, rates[j]), x)
            info.blocks.append(f"{info.name}.{j}")
    info.nodes = ctx.since(start)
    info.out_shape = x.shape
    ctx.graph.stages.append(info)
    ctx.taps[f"stage{index + 1}"] = x
    return x


def stage_kind(ctx: Ctx, index: int) -> BlockKind:
    """Stage `index`'s block kind; its shortcut policy must have a builder too (else a located
    `UnsupportedError`)."""
    spec, stage = ctx.spec, ctx.spec.stages[index]
    kind = block_kind(spec.stage_block(index).kind, ctx.key(*ctx.block_field(index, "kind")))
    shortcut_at = ("stages", index, "shortcut") if stage.shortcut else ("shortcut",)
    lookup(SHORTCUTS, spec.stage_shortcut(index), "the shortcut", ctx.key(*shortcut_at))
    return kind


def _block_ctx(ctx: Ctx, kind: BlockKind, index: int, j: int, plan: StagePlan,
               rate: float) -> BlockCtx:
    stage = ctx.spec.stages[index]
    name = f"layer{index + 1}"
    block = ctx.spec.stage_block(index)
    return BlockCtx(
        name=f"{name}.{j}", stage=name, stage_index=index, index=j, spec=block,
        policy=ctx.spec.stage_shortcut(index), width=stage.width,
        stride=plan.stride if j == 0 else 1, dilation=plan.dilation,
        first_dilation=plan.first_dilation if j == 0 else plan.dilation, drop_path=rate,
        expansion=_expansion(kind, block), options=block.kind_options())


def _expansion(kind: BlockKind, block: BlockSpec) -> int:
    return block.expansion if block.expansion is not None else kind.expansion


def _build_block(ctx: Ctx, kind: BlockKind, b: BlockCtx, x: Cursor) -> Cursor:
    start = len(ctx.added)
    with ctx.at(scope=Scope(stage=b.stage, block=b.name, branch="main"), prefix=f"{b.name}."):
        built = kind(ctx, b, x)
    out = built.output
    ctx.graph.blocks.append(BlockInfo(
        name=b.name, stage=b.stage, index=b.index, kind=kind.name, policy=b.policy,
        shortcut=built.shortcut, stride=b.stride, width=b.width,  # type: ignore[arg-type]
        inner=built.inner, groups=built.groups or b.spec.groups, in_shape=x.shape,
        out_shape=out.shape, loc=ctx.loc, nodes=ctx.since(start), input=x.node, output=out.node,
        dilation=b.dilation, se=built.se, drop_path=b.drop_path,
        attention=built.attention))
    ctx.blocks_done += 1
    return out


def _check_channels(kind: BlockKind, block: BlockSpec, width: int, loc: Loc | None,
                    notes: tuple[Note, ...] = ()) -> None:
    inner = kind.inner_width(width, block)
    for what, channels in (("output", width * _expansion(kind, block)), ("inner", inner)):
        if channels > limits.MAX_CHANNELS:
            raise LimitError(
                f"the blocks' {what} channels would be {channels}; the limit is "
                f"{limits.MAX_CHANNELS}", loc, notes=notes)
