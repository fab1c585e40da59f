"""What a block may add to its branch before the addition: squeeze-and-excitation and
stochastic depth (drop-path).

Squeeze-and-excitation is built from primitives rather than one composite op: `squeeze` (global
average, 1×1 kept), two 1x1 convs with bias (`se.fc1`, `se.fc2`, the checkpoint names of timm's
`seresnet50`), the spec's activation, and `gate` (x × sigmoid). Its parameters, checkpoint keys,
MACs and channel checks then come from the conv's existing rules, and the layers diagram shows
the squeeze path. docs/writing-specs.md says more.
"""

from __future__ import annotations

from resnet_spec.elaboration.attention import se_reduced
from resnet_spec.elaboration.attention import squeeze_excite as se_nodes
from resnet_spec.elaboration.context import BlockCtx, Ctx, Cursor
from resnet_spec.ir import DropPathNode


def squeeze_excite(ctx: Ctx, b: BlockCtx, x: Cursor) -> tuple[Cursor, int]:
    """The branch `x` gated per channel, if the block has `se`, and the squeeze's channels;
    else `x` and 0. (`block.se` is the short form of `attention: {kind: se}`.)"""
    if b.spec.se is None:
        return x, 0
    path = ctx.block_field(b.stage_index, "se")
    # 8 channels at least, in multiples of 8: timm's `make_divisible`, so `seresnet50` loads
    reduced = se_reduced(x.shape[0], b.spec.se.reduction, b.name,
                         ctx.source(*path, "reduction"))
    with ctx.at(loc=ctx.source(*path)):
        return se_nodes(ctx, x, reduced), reduced


def drop_path(ctx: Ctx, b: BlockCtx, x: Cursor) -> Cursor:
    """The branch `x` through stochastic depth at the block's rate, if above 0; else `x`."""
    if b.drop_path <= 0:
        return x
    return ctx.add(DropPathNode, "drop_path", [x], p=b.drop_path)
