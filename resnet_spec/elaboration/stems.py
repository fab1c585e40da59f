"""The stems, one builder per `stem.kind`: the layers before the first stage."""

from __future__ import annotations

from collections.abc import Callable

from resnet_spec.elaboration.context import Ctx, Cursor
from resnet_spec.ir import PoolNode
from resnet_spec.schema import PoolKind, StemKind

StemBuilder = Callable[[Ctx, Cursor], Cursor]


def conv_stem(ctx: Ctx, x: Cursor) -> Cursor:
    """One conv (`kernel`×`kernel`, `stride`) + norm + act, then the pool."""
    stem = ctx.spec.stem
    x = ctx.conv(x, "conv1", stem.width, kernel=stem.kernel, stride=stem.stride)
    return _finish(ctx, x)


def _finish(ctx: Ctx, x: Cursor) -> Cursor:
    """The stem's norm and act, the tap a backbone's `features: [0]` returns, and the pool."""
    x = ctx.norm(x, "bn1")
    x = ctx.act(x, "stem.act")
    ctx.taps["stem"] = x
    return _pool(ctx, x)


def _pool(ctx: Ctx, x: Cursor) -> Cursor:
    pool = ctx.spec.stem.pool
    if pool is PoolKind.none:
        return x
    return ctx.add(PoolNode, "stem.pool", [x], kind=pool.value, kernel=3, stride=2, padding=1)


STEMS: dict[StemKind, StemBuilder] = {
    StemKind.conv: conv_stem,
}
"""`stem.kind` -> its builder."""
