"""The stems, one builder per `stem.kind`: the layers before the first stage."""

from __future__ import annotations

from collections.abc import Callable

from resnet_spec.elaboration.blocks import BLOCK_KINDS, anti_alias_node
from resnet_spec.elaboration.context import Ctx, Cursor
from resnet_spec.ir import PoolNode
from resnet_spec.spec.schema import AntiAlias, PoolKind, StemKind

StemBuilder = Callable[[Ctx, Cursor], Cursor]


def conv_stem(ctx: Ctx, x: Cursor) -> Cursor:
    """One conv (`kernel`×`kernel`, `stride`) + norm + act, then the pool."""
    stem = ctx.spec.stem
    x = ctx.conv(x, "conv1", stem.width, kernel=stem.kernel, stride=stem.stride)
    return _finish(ctx, x)


def deep_stem(ctx: Ctx, x: Cursor) -> Cursor:
    """ResNet-C: three 3x3 conv, the first with `stride`, norm + act between them, then the
    stem's norm and act. timm's names: `conv1.0`, `.1` (norm), `.3`, `.4`, `.6`, then `bn1`; the
    activations (`conv1.2`, `conv1.5`) hold no parameters."""
    stem = ctx.spec.stem
    first, second, last = stem.widths or (stem.width // 2, stem.width // 2, stem.width)
    x = ctx.conv_norm(x, "conv1.0", "conv1.1", first, kernel=3, stride=stem.stride)
    x = ctx.act(x, "conv1.2")
    x = ctx.conv_norm(x, "conv1.3", "conv1.4", second, kernel=3)
    x = ctx.act(x, "conv1.5")
    x = ctx.conv(x, "conv1.6", last, kernel=3)
    return _finish(ctx, x)


def _finish(ctx: Ctx, x: Cursor) -> Cursor:
    """The stem's norm and act (none before pre-activation blocks, which begin with their own),
    the tap a backbone's `features: [0]` returns, and the pool."""
    if not BLOCK_KINDS[ctx.spec.stage_block(0).kind].preactivates:
        x = ctx.norm(x, "bn1")
        x = ctx.act(x, "stem.act")
    ctx.taps["stem"] = x
    return _pool(ctx, x)


def _pool(ctx: Ctx, x: Cursor) -> Cursor:
    pool = ctx.spec.stem.pool
    if pool is PoolKind.none:
        return x
    aa = ctx.spec.stem.anti_alias
    aa = None if aa is AntiAlias.none else aa
    if pool is PoolKind.conv:
        # ResNet-RS downsamples with learned weights; timm keeps the pool's module name
        with ctx.at(loc=ctx.source("stem", "pool")):
            x = ctx.conv(x, "maxpool.0", x.shape[0], kernel=3, stride=1 if aa else 2)
            if aa:
                x = _anti_alias(ctx, x, aa, "maxpool.1")
            after = 2 if aa else 1  # the norm and act follow the anti-aliasing in timm's list
            return ctx.act(ctx.norm(x, f"maxpool.{after}"), f"maxpool.{after + 1}")
    if aa is AntiAlias.avg:
        return _anti_alias(ctx, x, aa, "maxpool")
    if aa is AntiAlias.blur:
        x = ctx.add(PoolNode, "maxpool.0", [x], kind=pool.value, kernel=3, stride=1, padding=1)
        return _anti_alias(ctx, x, aa, "maxpool.1")
    return ctx.add(PoolNode, "stem.pool", [x], kind=pool.value, kernel=3, stride=2, padding=1)


def _anti_alias(ctx: Ctx, x: Cursor, aa: AntiAlias, name: str) -> Cursor:
    """The stem's stride-2 anti-aliasing, named `name`, located at `stem.anti_alias`."""
    with ctx.at(loc=ctx.source("stem", "anti_alias")):
        return anti_alias_node(ctx, x, aa, name, 2)


STEMS: dict[StemKind, StemBuilder] = {
    StemKind.conv: conv_stem,
    StemKind.deep: deep_stem,
}
"""`stem.kind` -> its builder."""
