"""The op `channel_scale`: each channel of a map times its own learnable factor. The front end
side only (no torch): its torch side is `torch_ops.BACKEND`, named by `CHANNEL_SCALE`."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from resnet_spec.ir import Finding, Op, Shape
from resnet_spec.plugins import OpPlugin

if TYPE_CHECKING:
    from resnet_spec.ir import Graph


class ChannelScaleNode(Op):
    """y[c] = x[c] × weight[c]; the weights start at `init`."""

    op: Literal["channel_scale"] = "channel_scale"
    family: ClassVar[str] = "norm"
    channels: int
    init: float = 1.0

    def params(self) -> dict[str, Shape]:
        return {f"{self.name}.weight": (self.channels,)}

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        got = inputs[0][0]
        if got == self.channels:
            return []
        return [self.error(f"`{self.name}` scales {self.channels} channels, gets {got}", "",
                           "channel_scale")]

    # macs: 0, as for a norm's affine: the cost model counts convolutions and linear layers

    def label(self) -> str:
        return f"channel scale (init {self.init:g})"


CHANNEL_SCALE = OpPlugin(op=ChannelScaleNode, backend="resnet_spec_tinyplug.torch_ops:BACKEND")
"""The `resnet_spec.ops` entry point `channel_scale`."""
