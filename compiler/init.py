"""Initialization: torchvision's scheme, seeded, filling each tensor exactly once (each op's
own rule is its `init` in `compiler/ops.py`).

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

import torch
from torch import nn

from resnet_spec.compiler.ops import BACKENDS
from resnet_spec.ir import Graph


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
                BACKENDS[node.op].init(model.get_submodule(node.name), node, gen)
