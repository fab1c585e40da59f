"""The channel attention kinds of `block.attention`, one `AttentionKind` registration each in
`ATTENTION_KINDS`: the built-ins here (`se`, `eca`) and those of installed packages
(`resnet_spec.attention` entry points, `plugins.py`).

A kind's builder gates a block's tensor per channel and says what it built: it gets the context,
the block, the tensor to gate, the validated `attention` settings and the width its channels
rule reads (`of: input` gives the block's input width, else the gated tensor's). Its nodes are
named `se.*`, as timm names every attention module of its ResNets (`se.fc1` for SE, `se.conv`
for ECA), so timm's checkpoints load as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from resnet_spec.elaboration.context import BlockCtx, Ctx, Cursor
from resnet_spec.errors import GraphError, Loc
from resnet_spec.ir import ChannelConvNode, GateNode, SqueezeNode
from resnet_spec.plugins import Registry
from resnet_spec.spec.schema import AttentionAt, AttentionOf, AttentionSpec


@dataclass(frozen=True)
class Attended:
    """What an attention builder built: the gated tensor and a few words for diagrams."""

    output: Cursor
    text: str
    """`SE 128`, `ECA k5`: what block diagrams write beside the kind."""
    squeeze: int = 0
    """The squeeze's channels of an SE-like kind (`BlockInfo.se`); 0 for others."""


@dataclass(frozen=True)
class AttentionKind:
    """One attention kind: its builder and the `attention` fields it reads."""

    name: str
    """The value of `block.attention.kind`."""
    build: Callable[[Ctx, BlockCtx, Cursor, AttentionSpec, int], Attended]
    description: str
    fields: tuple[str, ...] = ()
    """The optional `attention` fields it reads (`reduction`, `kernel`, ...); set for a kind
    that does not list them, they are an error at their line."""

    def __call__(self, ctx: Ctx, block: BlockCtx, x: Cursor, spec: AttentionSpec,
                 width: int) -> Attended:
        return self.build(ctx, block, x, spec, width)


def squeeze_channels(width: int, reduction: int, divisor: int = 8,
                     least: int | None = None, round_limit: float = 0.0) -> int:
    """`width / reduction` rounded to the nearest multiple of `divisor`, at least `least`
    (default `divisor`), one `divisor` more where that fell below `round_limit` of it: timm's
    `make_divisible(v, divisor, least, round_limit)`."""
    least = divisor if least is None else least
    exact = width / reduction
    out = max(least, int(exact + divisor / 2) // divisor * divisor)
    return out + divisor if out < round_limit * exact else out


def squeeze_excite(ctx: Ctx, x: Cursor, reduced: int) -> Cursor:
    """Global average, 1x1 conv with bias down to `reduced`, the spec's act, 1x1 conv with bias
    back, and the sigmoid gate of `x`: timm's SE module (`se.fc1`, `se.fc2`)."""
    s = ctx.add(SqueezeNode, "se.pool", [x])
    s = ctx.conv(s, "se.fc1", reduced, kernel=1, bias=True)
    s = ctx.act(s, "se.act")
    s = ctx.conv(s, "se.fc2", x.shape[0], kernel=1, bias=True)
    return ctx.add(GateNode, "se.gate", [x, s])


def se_reduced(width: int, reduction: int, block: str, loc: Loc | None, divisor: int = 8,
               least: int | None = None) -> int:
    """The squeeze's channels of squeeze-and-excitation over `width` (`squeeze_channels`), or
    the error at `loc` where `reduction` leaves none of them."""
    if width < reduction:
        raise GraphError(
            f"squeeze-and-excitation with reduction {reduction} leaves no channels of the "
            f"{width} of block {block}", loc, f"use a reduction of at most {width}")
    return squeeze_channels(width, reduction, divisor, least)


def _se(ctx: Ctx, b: BlockCtx, x: Cursor, spec: AttentionSpec, width: int) -> Attended:
    reduced = se_reduced(width, spec.reduction or 16, b.name, ctx.loc, spec.divisor or 8,
                         spec.min_channels)
    return Attended(squeeze_excite(ctx, x, reduced), f"SE {reduced}", reduced)


def eca_kernel(channels: int) -> int:
    """Wang et al. 2020's adaptive kernel size with gamma 2, beta 1 (timm's `EcaModule`): the
    odd number at or above int((log2(C) + 1) / 2), at least 3."""
    t = int(abs(math.log2(channels) + 1) / 2)
    return max(t if t % 2 else t + 1, 3)


def _eca(ctx: Ctx, b: BlockCtx, x: Cursor, spec: AttentionSpec, width: int) -> Attended:
    kernel = spec.kernel or eca_kernel(width)
    s = ctx.add(SqueezeNode, "se.pool", [x])
    s = ctx.add(ChannelConvNode, "se.conv", [s], kernel=kernel)
    return Attended(ctx.add(GateNode, "se.gate", [x, s]), f"ECA k{kernel}")


BUILTIN_ATTENTION_KINDS: dict[str, AttentionKind] = {kind.name: kind for kind in (
    AttentionKind("se", _se, "squeeze-and-excitation (Hu et al. 2018)",
                  fields=("reduction", "of", "divisor", "min_channels")),
    AttentionKind("eca", _eca, "efficient channel attention (Wang et al. 2020)",
                  fields=("kernel",)),
)}
"""The built-in attention kinds by name."""

ATTENTION_KINDS: Registry[AttentionKind] = Registry("resnet_spec.attention",
                                                    BUILTIN_ATTENTION_KINDS)
"""`block.attention.kind` -> its registration: the built-ins and the installed packages'."""


def attend(ctx: Ctx, b: BlockCtx, x: Cursor, block_input: Cursor, at: AttentionAt
           ) -> tuple[Cursor, Attended | None]:
    """`x` gated by the block's `attention` if it sits `at` this place; else `x` and None."""
    spec = b.spec.attention
    if spec is None or spec.at is not at:
        return x, None
    width = block_input.shape[0] if spec.of is AttentionOf.input else x.shape[0]
    with ctx.at(loc=ctx.source(*ctx.block_field(b.stage_index, "attention"))):
        built = ATTENTION_KINDS[spec.kind](ctx, b, x, spec, width)
    return built.output, built
