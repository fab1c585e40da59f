"""What a block may add to its branch before the addition: squeeze-and-excitation and
stochastic depth (drop-path).

Squeeze-and-excitation is built from primitives rather than one composite op: `squeeze` (global
average, 1×1 kept), two 1x1 convs with bias (`se.fc1`, `se.fc2`, the checkpoint names of timm's
`seresnet50`), the spec's activation, and `gate` (x × sigmoid). Its parameters, checkpoint keys,
MACs and channel checks then come from the conv's existing rules, and the layers diagram shows
the squeeze path. docs/writing-specs.md says more.
"""

from __future__ import annotations

from resnet_spec.elaboration.attention import squeeze_channels
from resnet_spec.elaboration.attention import squeeze_excite as se_nodes
from resnet_spec.elaboration.context import BlockCtx, Ctx, Cursor
from resnet_spec.errors import GraphError
from resnet_spec.ir import DropPathNode


def reduced_channels(channels: int, reduction: int) -> int:
    """The squeeze's channels: `channels / reduction` rounded to the nearest multiple of 8, at
    least 8 (timm's `make_divisible(v, 8, round_limit=0)`, so `seresnet50` loads)."""
    return squeeze_channels(channels, reduction)


def squeeze_excite(ctx: Ctx, b: BlockCtx, x: Cursor) -> tuple[Cursor, int]:
    """The branch `x` gated per channel, if the block has `se`, and the squeeze's channels;
    else `x` and 0. (`block.se` is the short form of `attention: {kind: se}`.)"""
    if b.spec.se is None:
        return x, 0
    channels, reduction = x.shape[0], b.spec.se.reduction
    path = ctx.block_field(b.stage_index, "se")
    if channels < reduction:
        raise GraphError(
            f"squeeze-and-excitation with reduction {reduction} leaves no channels of the "
            f"{channels} of block {b.name}", ctx.source(*path, "reduction"),
            f"use a reduction of at most {channels}")
    reduced = reduced_channels(channels, reduction)
    with ctx.at(loc=ctx.source(*path)):
        return se_nodes(ctx, x, reduced), reduced


def drop_path(ctx: Ctx, b: BlockCtx, x: Cursor) -> Cursor:
    """The branch `x` through stochastic depth at the block's rate, if above 0; else `x`."""
    if b.drop_path <= 0:
        return x
    return ctx.add(DropPathNode, "drop_path", [x], p=b.drop_path)
