"""The shortcut policies, one builder per `shortcut` value: what reaches a block's addition.

Each builder gets the block's input and returns the tensor to add (None: no addition), and
records in `ctx.block.shortcut` what it produced there (a `projection` keeps the identity where
the shape does not change). Its nodes sit on the block's `shortcut` branch.
"""

from __future__ import annotations

from collections.abc import Callable

from resnet_spec.elaboration.context import Ctx, Cursor
from resnet_spec.ir import PoolNode, Scope, ZeroPadNode
from resnet_spec.schema import Shortcut

ShortcutBuilder = Callable[[Ctx, Cursor], Cursor | None]


def _changes(ctx: Ctx, x: Cursor) -> bool:
    """Whether the block changes the shape: a stride above 1, or other output channels."""
    block = ctx.block
    assert block is not None
    return block.stride > 1 or x.shape[0] != block.out_channels


def _produced(ctx: Ctx, kind: str) -> None:
    assert ctx.block is not None
    ctx.block.shortcut = kind


def identity(ctx: Ctx, x: Cursor) -> Cursor:
    """The input itself (where the shape changes, the check reports the addition)."""
    _produced(ctx, "identity")
    return x


def none(ctx: Ctx, x: Cursor) -> None:
    """No shortcut: a plain block."""
    _produced(ctx, "none")


def zero_pad(ctx: Ctx, x: Cursor) -> Cursor:
    """Option A: subsample by the stride, append zero channels (where the shape changes)."""
    if not _changes(ctx, x):
        return identity(ctx, x)
    _produced(ctx, "zero_pad")
    block = ctx.block
    assert block is not None
    return ctx.add(ZeroPadNode, "shortcut", [x], stride=block.stride, in_channels=x.shape[0],
                   out_channels=block.out_channels)


def projection(ctx: Ctx, x: Cursor) -> Cursor:
    """Option B: a strided 1x1 conv + norm where the shape changes, else the input."""
    return _project(ctx, x) if _changes(ctx, x) else identity(ctx, x)


def projection_all(ctx: Ctx, x: Cursor) -> Cursor:
    """Option C: a 1x1 conv + norm everywhere."""
    return _project(ctx, x)


def _project(ctx: Ctx, x: Cursor) -> Cursor:
    """A strided 1x1 conv + norm; in a pre-activation block a bare conv of the pre-activated
    input (He et al. 2016)."""
    _produced(ctx, "projection")
    block = ctx.block
    assert block is not None
    if block.preact is not None:
        return ctx.conv(block.preact, "downsample.0", block.out_channels, kernel=1,
                        stride=block.stride)
    return ctx.conv_norm(x, "downsample.0", "downsample.1", block.out_channels, kernel=1,
                         stride=block.stride)


def avg_down(ctx: Ctx, x: Cursor) -> Cursor:
    """ResNet-D, where the shape changes: a 2x2 average pool with the stride (ceil mode, padding
    not counted; none at stride 1), then a 1x1 conv + norm. timm's names: `downsample.0` (the
    pool), `.1` (conv), `.2` (norm). A pre-activation block pools its pre-activated input and
    has no norm."""
    if not _changes(ctx, x):
        return identity(ctx, x)
    _produced(ctx, "avg_down")
    block = ctx.block
    assert block is not None
    x = block.preact or x
    if block.stride > 1:
        x = ctx.add(PoolNode, "downsample.0", [x], kind="avg", kernel=2, stride=block.stride,
                    ceil_mode=True, count_include_pad=False)
    x = ctx.conv(x, "downsample.1", block.out_channels, kernel=1)
    return x if block.preact is not None else ctx.norm(x, "downsample.2")


SHORTCUTS: dict[Shortcut, ShortcutBuilder] = {
    Shortcut.identity: identity,
    Shortcut.zero_pad: zero_pad,
    Shortcut.projection: projection,
    Shortcut.projection_all: projection_all,
    Shortcut.avg_down: avg_down,
    Shortcut.none: none,
}
"""`shortcut` -> its builder."""


def shortcut(ctx: Ctx, x: Cursor) -> Cursor | None:
    """The block's shortcut by its policy, built on the block's `shortcut` branch."""
    block = ctx.block
    assert block is not None
    build = SHORTCUTS[block.policy]  # the stage looked it up, refusing one not registered
    with ctx.at(scope=Scope(stage=block.stage, block=block.name, branch="shortcut")):
        return build(ctx, x)
