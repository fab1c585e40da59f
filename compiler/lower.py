"""Lowering: the checked IR into a `torch.fx.GraphModule`, one lowering per IR op kind.

Each lowering appends the op's code to a `torch.fx.Graph` and, where the op holds state,
creates the torch module at the IR node's name (`layer1.0.conv1`): so the state_dict keys are
exactly the IR's parameter and buffer names, and torchvision's and timm's checkpoints load with
`strict=True`. The result is straight-line generated code (`print(model.code)`), which
`torch.export`, ONNX and torch-tensorrt take as it is; nothing walks the IR at forward time.

Modules are created on the device the caller names, usually `meta`: the caller then either
loads weights with `assign=True` or allocates and initializes each tensor once.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from resnet_spec.ir import Graph

INPUT_NAME = "x"


def zero_pad(x: torch.Tensor, stride: int, extra_channels: int) -> torch.Tensor:
    """The option-A shortcut: keep every `stride`-th pixel, append `extra_channels` zeros."""
    if stride > 1:
        x = x[:, :, ::stride, ::stride]
    # F.pad's tuple runs from the last dim backwards: (W left, W right, H ..., C before, after)
    return F.pad(x, (0, 0, 0, 0, 0, extra_channels))


class DropPath(nn.Module):
    """Stochastic depth: in training, zero each sample's residual branch with probability `p`
    and scale the kept ones by 1/(1-p), so the expected output is unchanged; in eval, nothing."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def gate(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Squeeze-and-excitation's excitation: `x` scaled per channel by the sigmoid of `logits`."""
    return x * torch.sigmoid(logits)


@dataclass
class _Lowering:
    """The fx graph being written, the modules it calls, and the value of each IR node."""

    graph: fx.Graph
    factory: dict[str, Any]
    """`device=` and `dtype=` for every module created."""
    modules: dict[str, nn.Module] = field(default_factory=dict)
    values: dict[str, fx.Node] = field(default_factory=dict)

    def call(self, op: str, target: Any, args: tuple[Any, ...], name: str,
             kwargs: dict[str, Any] | None = None) -> fx.Node:
        # fx turns the dotted IR name into a valid identifier for the generated code
        return self.graph.create_node(op, target, args, kwargs or {}, name=name.replace(".", "_"))

    def module(self, name: str, module: nn.Module, args: tuple[Any, ...]) -> fx.Node:
        self.modules[name] = module
        return self.call("call_module", name, args, name)


Lower = Callable[[Any, list[fx.Node], _Lowering], fx.Node]


def _input(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    return lo.graph.placeholder(INPUT_NAME)


def _conv(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    conv = nn.Conv2d(node.in_channels, node.out_channels, node.kernel, stride=node.stride,
                     padding=node.padding, dilation=node.dilation, groups=node.groups,
                     bias=node.bias, **lo.factory)
    return lo.module(node.name, conv, tuple(args))


def _norm(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    if node.kind.value == "batch":
        norm: nn.Module = nn.BatchNorm2d(node.channels, eps=node.eps, momentum=node.momentum,
                                         **lo.factory)
    else:
        norm = nn.GroupNorm(node.groups, node.channels, eps=node.eps, **lo.factory)
    return lo.module(node.name, norm, tuple(args))


_ACTIVATIONS: dict[str, Callable[..., torch.Tensor]] = {
    "relu": F.relu,
    "silu": F.silu,
    "gelu": F.gelu,
    "leaky_relu": F.leaky_relu,
}


def _act(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    return lo.call("call_function", _ACTIVATIONS[node.kind.value], tuple(args), node.name)


def _pool(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    window = (args[0], node.kernel, node.stride, node.padding)
    if node.kind == "max":
        return lo.call("call_function", F.max_pool2d, window, node.name,
                       {"ceil_mode": node.ceil_mode})
    return lo.call("call_function", F.avg_pool2d, window, node.name,
                   {"ceil_mode": node.ceil_mode, "count_include_pad": node.count_include_pad})


_GLOBAL_POOLS = {"avg": F.adaptive_avg_pool2d, "max": F.adaptive_max_pool2d}


def _global_pool(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    pooled = lo.call("call_function", _GLOBAL_POOLS[node.kind.value], (args[0], 1), node.name)
    return lo.call("call_function", torch.flatten, (pooled, 1), f"{node.name}.flat")


def _zero_pad(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    extra = node.out_channels - node.in_channels
    return lo.call("call_function", zero_pad, (args[0], node.stride, extra), node.name)


def _add(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    return lo.call("call_function", operator.add, tuple(args), node.name)


def _dropout(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    # a module, so that it follows the model's train/eval mode
    return lo.module(node.name, nn.Dropout(node.p), tuple(args))


def _linear(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    linear = nn.Linear(node.in_features, node.out_features, bias=node.bias, **lo.factory)
    return lo.module(node.name, linear, tuple(args))


def _squeeze(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    return lo.call("call_function", torch.mean, (args[0], (2, 3)), node.name, {"keepdim": True})


def _gate(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    return lo.call("call_function", gate, tuple(args), node.name)


def _drop_path(node: Any, args: list[fx.Node], lo: _Lowering) -> fx.Node:
    # a module, so that it follows the model's train/eval mode
    return lo.module(node.name, DropPath(node.p), tuple(args))


LOWERINGS: dict[str, Lower] = {
    "input": _input,
    "conv": _conv,
    "norm": _norm,
    "act": _act,
    "pool": _pool,
    "global_pool": _global_pool,
    "zero_pad": _zero_pad,
    "add": _add,
    "dropout": _dropout,
    "linear": _linear,
    "squeeze": _squeeze,
    "gate": _gate,
    "drop_path": _drop_path,
}


def lower(graph: Graph, *, device: Any = "meta", dtype: torch.dtype | None = None
          ) -> fx.GraphModule:
    """The IR as a GraphModule whose submodules sit at the IR's parameter names.

    The forward takes one batch `x` and returns the IR's one output as a tensor, or a dict of
    tensors keyed by output name where the IR says so (`graph.output_dict`: a backbone's
    `features`). Parameters are created on `device`
    (default `meta`: nothing allocated) and are NOT initialized: see `resnet_spec.compiler.init`.
    """
    lo = _Lowering(fx.Graph(), {"device": device, "dtype": dtype})
    for node in graph.nodes():
        args = [lo.values[name] for name in node.inputs]
        lo.values[node.name] = LOWERINGS[node.op](node, args, lo)
    outputs = {name: lo.values[node] for name, node in graph.outputs.items()}
    lo.graph.output(outputs if graph.output_dict else next(iter(outputs.values())))
    lo.graph.lint()
    return fx.GraphModule(_nest(lo.modules), lo.graph, class_name=_class_name(graph.name))


def _nest(modules: dict[str, nn.Module]) -> nn.Module:
    """One root holding each module at its dotted path, containers created in graph order.

    (Given the flat dict, GraphModule would register shallow paths first, putting `fc` before
    `layer1` in the state_dict; torchvision's order is the graph's.)
    """
    root = nn.Module()
    for path, module in modules.items():
        parent = root
        *outer, leaf = path.split(".")
        for atom in outer:
            if not hasattr(parent, atom):
                parent.add_module(atom, nn.Module())
            parent = getattr(parent, atom)
        parent.add_module(leaf, module)
    return root


def _class_name(name: str) -> str:
    """A Python identifier from a spec name (`resnet50`, `my-net.v2` -> `my_net_v2`)."""
    return "".join(c if c.isalnum() else "_" for c in name) or "Model"
