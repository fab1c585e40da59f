"""The shortcut policies, one builder per `shortcut` value: what reaches a block's addition.

Each builder gets the block and its input and returns what it built (`ShortcutBuilt`): the tensor
to add (None: no addition) and what it produced there (a `projection` keeps the identity where
the shape does not change). Its nodes sit on the block's `shortcut` branch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from resnet_spec.elaboration.context import BlockCtx, Ctx, Cursor
from resnet_spec.ir import PoolNode, Scope, ZeroPadNode
from resnet_spec.spec.schema import Shortcut


@dataclass(frozen=True)
class ShortcutBuilt:
    """What a shortcut builder built: the tensor to add (None: no addition) and what it is."""

    tensor: Cursor | None
    produced: str
    """`identity`, `zero_pad`, `projection`, `avg_down` or `none` (`BlockInfo.shortcut`)."""


ShortcutBuilder = Callable[[Ctx, BlockCtx, Cursor, "Cursor | None"], ShortcutBuilt]
"""(ctx, the block, its input, its pre-activated input in a pre-activation block) -> built."""


def _changes(block: BlockCtx, x: Cursor) -> bool:
    """Whether the block changes the shape: a stride above 1, or other output channels."""
    return block.stride > 1 or x.shape[0] != block.out_channels


def identity(ctx: Ctx, block: BlockCtx, x: Cursor, preact: Cursor | None) -> ShortcutBuilt:
    """The input itself (where the shape changes, the check reports the addition)."""
    return ShortcutBuilt(x, "identity")


def none(ctx: Ctx, block: BlockCtx, x: Cursor, preact: Cursor | None) -> ShortcutBuilt:
    """No shortcut: a plain block."""
    return ShortcutBuilt(None, "none")


def zero_pad(ctx: Ctx, block: BlockCtx, x: Cursor, preact: Cursor | None) -> ShortcutBuilt:
    """Option A: subsample by the stride, append zero channels (where the shape changes)."""
    if not _changes(block, x):
        return identity(ctx, block, x, preact)
    padded = ctx.add(ZeroPadNode, "shortcut", [x], stride=block.stride, in_channels=x.shape[0],
                     out_channels=block.out_channels)
    return ShortcutBuilt(padded, "zero_pad")


def projection(ctx: Ctx, block: BlockCtx, x: Cursor, preact: Cursor | None) -> ShortcutBuilt:
    """Option B: a strided 1x1 conv + norm where the shape changes, else the input."""
    if not _changes(block, x):
        return identity(ctx, block, x, preact)
    return _project(ctx, block, x, preact)


def projection_all(ctx: Ctx, block: BlockCtx, x: Cursor, preact: Cursor | None
                   ) -> ShortcutBuilt:
    """Option C: a 1x1 conv + norm everywhere."""
    return _project(ctx, block, x, preact)


def _project(ctx: Ctx, block: BlockCtx, x: Cursor, preact: Cursor | None) -> ShortcutBuilt:
    """A strided 1x1 conv + norm; in a pre-activation block a bare conv of the pre-activated
    input (He et al. 2016)."""
    if preact is not None:
        out = ctx.conv(preact, "downsample.0", block.out_channels, kernel=1, stride=block.stride)
    else:
        out = ctx.conv_norm(x, "downsample.0", "downsample.1", block.out_channels, kernel=1,
                            stride=block.stride)
    return ShortcutBuilt(out, "projection")


def avg_down(ctx: Ctx, block: BlockCtx, x: Cursor, preact: Cursor | None) -> ShortcutBuilt:
    """ResNet-D, where the shape changes: a 2x2 average pool with the stride (ceil mode, padding
    not counted; none at stride 1, but in a dilated stage a size-keeping one that pads the
    map's end, as timm's), then a 1x1 conv + norm. timm's names: `downsample.0` (the pool),
    `.1` (conv), `.2` (norm). A pre-activation block pools its pre-activated input and has no
    norm."""
    if not _changes(block, x):
        return identity(ctx, block, x, preact)
    y = preact or x
    if block.stride > 1:
        y = ctx.add(PoolNode, "downsample.0", [y], kind="avg", kernel=2, stride=block.stride,
                    ceil_mode=True, count_include_pad=False)
    elif block.dilation > 1:
        y = ctx.add(PoolNode, "downsample.0", [y], kind="avg", kernel=2, stride=1, same=True)
    y = ctx.conv(y, "downsample.1", block.out_channels, kernel=1)
    return ShortcutBuilt(y if preact is not None else ctx.norm(y, "downsample.2"), "avg_down")


SHORTCUTS: dict[Shortcut, ShortcutBuilder] = {
    Shortcut.identity: identity,
    Shortcut.zero_pad: zero_pad,
    Shortcut.projection: projection,
    Shortcut.projection_all: projection_all,
    Shortcut.avg_down: avg_down,
    Shortcut.none: none,
}
"""`shortcut` -> its builder."""


def shortcut(ctx: Ctx, block: BlockCtx, x: Cursor, preact: Cursor | None) -> ShortcutBuilt:
    """The block's shortcut by its policy, built on the block's `shortcut` branch."""
    build = SHORTCUTS[block.policy]  # the stage looked it up, refusing one not registered
    with ctx.at(scope=Scope(stage=block.stage, block=block.name, branch="shortcut")):
        return build(ctx, block, x, preact)
