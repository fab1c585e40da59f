"""channels_last: 4-D weights and the input batch in NHWC memory order.

The values are unchanged; only the layout in memory, which oneDNN's CPU convolutions (and
cuDNN's tensor-core ones) prefer. The input is converted once, at the top of the graph; every
conv, norm, pool and add after it keeps the layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import fx, nn


@dataclass(frozen=True)
class ChannelsLast:
    """Every conv weight and the input (an image batch, N C H W) in channels_last format."""

    name: str = "channels_last"

    def apply(self, module: fx.GraphModule) -> fx.GraphModule:
        for sub in module.modules():
            if isinstance(sub, nn.Conv2d):
                sub.to(memory_format=torch.channels_last)
        for node in list(module.graph.nodes):
            if node.op == "placeholder":
                self._convert_input(module.graph, node)
        return module

    @staticmethod
    def _convert_input(graph: fx.Graph, placeholder: fx.Node) -> None:
        with graph.inserting_after(placeholder):
            converted = graph.call_method("contiguous", (placeholder,),
                                          {"memory_format": torch.channels_last})
        placeholder.replace_all_uses_with(converted, delete_user_cb=lambda n: n is not converted)
