"""Initialization: torchvision's scheme, seeded, filling each tensor exactly once.

torchvision's ResNet initializes every conv twice (the layer's own default, then Kaiming);
here the modules are built on the meta device, allocated once with `to_empty`, then filled
once, in IR order, from one `torch.Generator` seeded with `seed`: two builds with the same
seed on the same kind of device are byte-identical.

- conv: Kaiming normal, fan-out, gain of relu (torchvision); a bias, where one exists, gets
  nn.Conv2d's own default (uniform in +-1/sqrt(fan_in));
- norm: weight 1 (0 for the IR's `zero_init` norms: `zero_init_last_norm`), bias 0, running
  mean 0, running variance 1;
- linear: nn.Linear's default (Kaiming uniform with a = sqrt(5), bias uniform in
  +-1/sqrt(fan_in)), as torchvision leaves its classifier.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from resnet_spec.ir import Graph

Init = Callable[[nn.Module, Any, torch.Generator], None]


def _fan_in_uniform(tensor: torch.Tensor, fan_in: int, gen: torch.Generator) -> None:
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    nn.init.uniform_(tensor, -bound, bound, generator=gen)


def _conv(module: nn.Module, node: Any, gen: torch.Generator) -> None:
    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu", generator=gen)
    if module.bias is not None:
        _fan_in_uniform(module.bias, module.weight[0].numel(), gen)


def _norm(module: nn.Module, node: Any, gen: torch.Generator) -> None:
    module.weight.fill_(0.0 if node.zero_init else 1.0)
    module.bias.zero_()
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        module.reset_running_stats()


def _linear(module: nn.Module, node: Any, gen: torch.Generator) -> None:
    nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=gen)
    if module.bias is not None:
        _fan_in_uniform(module.bias, module.in_features, gen)


def _stateless(module: nn.Module, node: Any, gen: torch.Generator) -> None:
    """Ops that hold no parameters or buffers: nothing to fill."""


# IR op kind -> how its module starts; every op kind has an entry (a test holds it to the IR)
INITIALIZERS: dict[str, Init] = {
    "input": _stateless,
    "conv": _conv,
    "norm": _norm,
    "act": _stateless,
    "pool": _stateless,
    "global_pool": _stateless,
    "zero_pad": _stateless,
    "add": _stateless,
    "dropout": _stateless,
    "linear": _linear,
    "squeeze": _stateless,
    "gate": _stateless,
    "drop_path": _stateless,
}


def initialize(model: nn.Module, graph: Graph, *, seed: int = 0) -> None:
    """Fill every parameter and buffer of `model` (lowered from `graph`, allocated) from `seed`.

    The generator lives on the parameters' device, so the same seed gives the same weights on
    every run on one kind of device (CPU and CUDA draw different numbers).
    """
    device = next(iter(model.state_dict().values()), torch.empty(0)).device
    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for node in graph.nodes():
            if node.params() or node.buffers():
                INITIALIZERS[node.op](model.get_submodule(node.name), node, gen)
