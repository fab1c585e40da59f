"""The residual blocks, one builder per `block.kind`.

A block builder gets the block's input and returns its output; `ctx.block` holds the block's
widths, stride, dilations and drop-path rate, and the builder writes what it decided back there
(the inner width). Names follow torchvision's blocks: `conv1`, `bn1`, ... `downsample.0`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from resnet_spec.elaboration import excite
from resnet_spec.elaboration.context import BlockCtx, Ctx, Cursor
from resnet_spec.elaboration.shortcuts import shortcut
from resnet_spec.ir import AddNode
from resnet_spec.schema import BlockKind, BlockSpec, StrideAt


@dataclass(frozen=True)
class BlockBuilder:
    """A block kind's builder `(ctx, cursor) -> cursor`, and whether its blocks pre-activate
    (norm and act before each conv: the stem before them then has no norm or act, and a final
    norm and act follow the last of them)."""

    build: Callable[[Ctx, Cursor], Cursor]
    preactivates: bool = False

    def __call__(self, ctx: Ctx, x: Cursor) -> Cursor:
        return self.build(ctx, x)


def inner_width(width: int, block: BlockSpec) -> int:
    """A bottleneck's inner channels: floor(width × base_width / 64) × groups."""
    return width * block.base_width // 64 * block.groups


def _block(ctx: Ctx) -> BlockCtx:
    assert ctx.block is not None, "a block builder runs inside a block"
    return ctx.block


def basic(ctx: Ctx, x: Cursor) -> Cursor:
    """Two 3x3 conv + norm, the first strided, then the addition and the act."""
    b = _block(ctx)
    b.inner = b.width
    y = ctx.conv_norm(x, "conv1", "bn1", b.width, kernel=3, stride=b.stride,
                      dilation=b.first_dilation)
    y = ctx.act(y, "act1")
    y = ctx.conv_norm(y, "conv2", "bn2", b.out_channels, kernel=3, dilation=b.dilation,
                      zero_init=b.spec.zero_init_last_norm)
    return ctx.act(_residual(ctx, x, y), "act2")


def bottleneck(ctx: Ctx, x: Cursor) -> Cursor:
    """1x1 reduce, 3x3 (grouped), 1x1 expand, each + norm; the stride on the 1x1 or the 3x3."""
    b = _block(ctx)
    b.inner = inner_width(b.width, b.spec)
    s1, s2 = (b.stride, 1) if b.spec.stride_at is StrideAt.first else (1, b.stride)
    y = ctx.conv_norm(x, "conv1", "bn1", b.inner, kernel=1, stride=s1)
    y = ctx.act(y, "act1")
    y = ctx.conv_norm(y, "conv2", "bn2", b.inner, kernel=3, stride=s2,
                      dilation=b.first_dilation, groups=b.spec.groups)
    y = ctx.act(y, "act2")
    y = ctx.conv_norm(y, "conv3", "bn3", b.out_channels, kernel=1,
                      zero_init=b.spec.zero_init_last_norm)
    return ctx.act(_residual(ctx, x, y), "act3")


def _residual(ctx: Ctx, x: Cursor, branch: Cursor) -> Cursor:
    """The branch, through its squeeze-and-excitation and drop-path where the block has them,
    plus the shortcut of the block's input (the branch alone in a plain block)."""
    branch = excite.squeeze_excite(ctx, branch)
    branch = excite.drop_path(ctx, branch)
    short = shortcut(ctx, x)
    if short is None:
        return branch
    return ctx.add(AddNode, "add", [branch, short])


def preact_basic(ctx: Ctx, x: Cursor) -> Cursor:
    """He et al. 2016: norm + act, 3x3 conv (strided), norm + act, 3x3 conv; no act after the
    addition."""
    b = _block(ctx)
    b.inner = b.width
    y = _preactivate(ctx, x)
    y = ctx.conv(y, "conv1", b.width, kernel=3, stride=b.stride, dilation=b.first_dilation)
    y = _norm_act(ctx, y, "2", zero_init=b.spec.zero_init_last_norm)
    y = ctx.conv(y, "conv2", b.out_channels, kernel=3, dilation=b.dilation)
    return _residual(ctx, x, y)


def preact_bottleneck(ctx: Ctx, x: Cursor) -> Cursor:
    """He et al. 2016: (norm + act, conv) three times: 1x1 reduce, 3x3 (grouped), 1x1 expand."""
    b = _block(ctx)
    b.inner = inner_width(b.width, b.spec)
    s1, s2 = (b.stride, 1) if b.spec.stride_at is StrideAt.first else (1, b.stride)
    y = _preactivate(ctx, x)
    y = ctx.conv(y, "conv1", b.inner, kernel=1, stride=s1)
    y = _norm_act(ctx, y, "2")
    y = ctx.conv(y, "conv2", b.inner, kernel=3, stride=s2, dilation=b.first_dilation,
                 groups=b.spec.groups)
    y = _norm_act(ctx, y, "3", zero_init=b.spec.zero_init_last_norm)
    y = ctx.conv(y, "conv3", b.out_channels, kernel=1)
    return _residual(ctx, x, y)


def _preactivate(ctx: Ctx, x: Cursor) -> Cursor:
    """The block's first norm + act; projections read it (`ctx.block.preact`)."""
    _block(ctx).preact = _norm_act(ctx, x, "1")
    return _block(ctx).preact  # type: ignore[return-value]


def _norm_act(ctx: Ctx, x: Cursor, n: str, *, zero_init: bool = False) -> Cursor:
    return ctx.act(ctx.norm(x, f"bn{n}", zero_init=zero_init), f"act{n}")


BLOCKS: dict[BlockKind, BlockBuilder] = {
    BlockKind.basic: BlockBuilder(basic),
    BlockKind.bottleneck: BlockBuilder(bottleneck),
    BlockKind.preact_basic: BlockBuilder(preact_basic, preactivates=True),
    BlockKind.preact_bottleneck: BlockBuilder(preact_bottleneck, preactivates=True),
}
"""`block.kind` -> its builder."""
