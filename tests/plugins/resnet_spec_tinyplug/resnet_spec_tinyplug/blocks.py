"""The block kind `scaled_basic`: two 3x3 conv + norm, then a learnable per-channel scale,
before the addition; `block.options: {scale_init: 0.1}` sets where the scales start."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from resnet_spec.elaboration.blocks import BlockKind, Built, residual
from resnet_spec.elaboration.context import BlockCtx, Ctx, Cursor
from resnet_spec_tinyplug.ops import ChannelScaleNode


class ScaledBasicOptions(BaseModel):
    # as the spec's own models: unknown keys and coerced values are errors
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    scale_init: float = Field(1.0, gt=0, le=10,
                              description="The value every channel's scale starts at.")


def scaled_basic(ctx: Ctx, b: BlockCtx, x: Cursor) -> Built:
    options = b.options
    assert isinstance(options, ScaledBasicOptions)  # the stage loop validated them
    y = ctx.conv_norm(x, "conv1", "bn1", b.width, kernel=3, stride=b.stride,
                      dilation=b.first_dilation)
    y = ctx.act(y, "act1")
    y = ctx.conv_norm(y, "conv2", "bn2", b.out_channels, kernel=3, dilation=b.dilation)
    y = ctx.add(ChannelScaleNode, "scale", [y], channels=b.out_channels,
                init=options.scale_init)
    return residual(ctx, b, x, y, inner=b.width, last_act="act2")


SCALED_BASIC = BlockKind(
    "scaled_basic", scaled_basic, "two 3x3, then a learnable per-channel scale",
    module_class="ScaledBasicBlock", family="conv", options=ScaledBasicOptions)
"""The `resnet_spec.blocks` entry point `scaled_basic`."""
