"""The torch side of `channel_scale`, imported only when a graph is lowered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import fx, nn

from resnet_spec.compiler.ops import OpBackend

if TYPE_CHECKING:
    from resnet_spec.compiler.lower import Lowering


class ChannelScale(nn.Module):
    def __init__(self, channels: int, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(channels, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1)


def _lower(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    return lo.module(node.name, ChannelScale(node.channels, **lo.factory), tuple(args))


def _init(module: nn.Module, node: Any, gen: torch.Generator) -> None:
    module.weight.fill_(node.init)


BACKEND = OpBackend(_lower, _init, (ChannelScale,))
