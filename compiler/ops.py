"""The torch side of each IR op, one registration per op kind: how it lowers into the fx graph,
how its tensors start (torchvision's scheme, see `init.py`), and which module classes its
lowering creates.

Everything else an op needs (shape, checks, cost, drawing, flags) is on its IR class
(`resnet_spec/ir/ops.py`); `tests/test_registries.py` holds `BACKENDS` to the IR's op list. An
installed package's op (`resnet_spec.plugins.OpPlugin`) names its `OpBackend`, imported and
checked here the first time a graph with that op is lowered.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import fx, nn

from resnet_spec.compiler.lower import (
    INPUT_NAME,
    BlurPool,
    ChannelConv,
    DropPath,
    SameAvgPool,
    gate,
    radix_combine,
    radix_softmax,
    zero_pad,
)
from resnet_spec.plugins import PluginError, Registration, Registry, one_line

if TYPE_CHECKING:
    from resnet_spec.compiler.lower import Lowering

Lower = Callable[[Any, list[fx.Node], "Lowering"], fx.Node]
"""(IR node, the fx values of its inputs, the part being written) -> the node's fx value."""
Init = Callable[[nn.Module, Any, torch.Generator], None]
"""(the node's module, allocated; the IR node; the seeded generator) -> None, filling it."""


def stateless(module: nn.Module, node: Any, gen: torch.Generator) -> None:
    """Ops that hold no parameters or buffers: nothing to fill."""


@dataclass(frozen=True)
class OpBackend:
    """How one IR op kind becomes torch."""

    lower: Lower
    init: Init = stateless
    """How the module of a node with parameters or buffers starts, from the seeded generator."""
    modules: tuple[type[nn.Module], ...] = ()
    """The module classes `lower` may create: the inference passes drop those of ops whose IR
    class is `training_only`."""


def _fan_in_uniform(tensor: torch.Tensor, fan_in: int, gen: torch.Generator) -> None:
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    nn.init.uniform_(tensor, -bound, bound, generator=gen)


def _input(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    return lo.graph.placeholder(INPUT_NAME)


def _conv(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    conv = nn.Conv2d(node.in_channels, node.out_channels, node.kernel, stride=node.stride,
                     padding=node.padding, dilation=node.dilation, groups=node.groups,
                     bias=node.bias, **lo.factory)
    return lo.module(node.name, conv, tuple(args))


def _init_conv(module: nn.Module, node: Any, gen: torch.Generator) -> None:
    # torchvision: Kaiming normal, fan-out, relu's gain; a bias keeps nn.Conv2d's own default
    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu", generator=gen)
    if module.bias is not None:
        _fan_in_uniform(module.bias, module.weight[0].numel(), gen)


def _norm(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    if node.kind.value == "batch":
        norm: nn.Module = nn.BatchNorm2d(node.channels, eps=node.eps, momentum=node.momentum,
                                         **lo.factory)
    else:
        norm = nn.GroupNorm(node.groups, node.channels, eps=node.eps, **lo.factory)
    return lo.module(node.name, norm, tuple(args))


def _init_norm(module: nn.Module, node: Any, gen: torch.Generator) -> None:
    module.weight.fill_(0.0 if node.zero_init else 1.0)
    module.bias.zero_()
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        module.reset_running_stats()


_ACTIVATIONS: dict[str, Callable[..., nn.Module]] = {
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
}
_IN_PLACE = {"relu", "silu", "leaky_relu"}
"""Activations torch can compute in place (GELU cannot)."""


def _act(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    # a module, as torchvision's `relu`, so that hooks see each activation; in place, as
    # torchvision's, where no one else reads the input (one allocation less per activation)
    kind = node.kind.value
    act = _ACTIVATIONS[kind](inplace=True) if kind in _IN_PLACE and lo.owns_input(node) \
        else _ACTIVATIONS[kind]()
    return lo.module(node.name, act, tuple(args))


def _pool(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    if node.kind == "max":
        pool: nn.Module = nn.MaxPool2d(node.kernel, node.stride, node.padding,
                                       ceil_mode=node.ceil_mode)
    elif node.same:
        pool = SameAvgPool(node.kernel)
    else:
        pool = nn.AvgPool2d(node.kernel, node.stride, node.padding, ceil_mode=node.ceil_mode,
                            count_include_pad=node.count_include_pad)
    return lo.module(node.name, pool, tuple(args))


_GLOBAL_POOLS: dict[str, Callable[[int], nn.Module]] = {
    "avg": nn.AdaptiveAvgPool2d,
    "max": nn.AdaptiveMaxPool2d,
}


def _global_pool(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    pooled = lo.module(node.name, _GLOBAL_POOLS[node.kind.value](1), (args[0],))
    return lo.call("call_function", torch.flatten, (pooled, 1), f"{node.name}.flat")


def _zero_pad(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    extra = node.out_channels - node.in_channels
    return lo.call("call_function", zero_pad, (args[0], node.stride, extra), node.name)


def _add(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    return lo.call("call_function", operator.add, tuple(args), node.name)


def _dropout(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    # a module, so that it follows the model's train/eval mode
    return lo.module(node.name, nn.Dropout(node.p), tuple(args))


def _linear(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    linear = nn.Linear(node.in_features, node.out_features, bias=node.bias, **lo.factory)
    return lo.module(node.name, linear, tuple(args))


def _init_linear(module: nn.Module, node: Any, gen: torch.Generator) -> None:
    # nn.Linear's own default, as torchvision leaves its classifier
    nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=gen)
    if module.bias is not None:
        _fan_in_uniform(module.bias, module.in_features, gen)


def _squeeze(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    return lo.call("call_function", torch.mean, (args[0], (2, 3)), node.name, {"keepdim": True})


def _gate(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    return lo.call("call_function", gate, tuple(args), node.name)


def _drop_path(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    # a module, so that it follows the model's train/eval mode
    return lo.module(node.name, DropPath(node.p), tuple(args))


def _blur_pool(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    return lo.module(node.name, BlurPool(node.stride, node.padding), tuple(args))


def _channel_conv(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    return lo.module(node.name, ChannelConv(node.kernel, **lo.factory), tuple(args))


def _init_channel_conv(module: nn.Module, node: Any, gen: torch.Generator) -> None:
    # torch's Conv1d default, which timm's EcaModule keeps
    nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=gen)


def _channel_slice(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    return lo.call("call_function", torch.narrow, (args[0], 1, node.start, node.channels),
                   node.name)


def _concat(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    return lo.call("call_function", torch.cat, (list(args), 1), node.name)


def _radix_softmax(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    return lo.call("call_function", radix_softmax, (args[0], node.radix, node.cardinality),
                   node.name)


def _radix_combine(node: Any, args: list[fx.Node], lo: Lowering) -> fx.Node:
    return lo.call("call_function", radix_combine, (*args, node.radix), node.name)


BUILTIN_BACKENDS: dict[str, OpBackend] = {
    "input": OpBackend(_input),
    "conv": OpBackend(_conv, _init_conv, (nn.Conv2d,)),
    "norm": OpBackend(_norm, _init_norm, (nn.BatchNorm2d, nn.GroupNorm)),
    "act": OpBackend(_act, modules=tuple(_ACTIVATIONS.values())),  # type: ignore[arg-type]
    "pool": OpBackend(_pool, modules=(nn.MaxPool2d, nn.AvgPool2d, SameAvgPool)),
    "global_pool": OpBackend(_global_pool, modules=(nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)),
    "zero_pad": OpBackend(_zero_pad),
    "add": OpBackend(_add),
    "dropout": OpBackend(_dropout, modules=(nn.Dropout,)),
    "linear": OpBackend(_linear, _init_linear, (nn.Linear,)),
    "squeeze": OpBackend(_squeeze),
    "gate": OpBackend(_gate),
    "drop_path": OpBackend(_drop_path, modules=(DropPath,)),
    "blur_pool": OpBackend(_blur_pool, modules=(BlurPool,)),
    "channel_conv": OpBackend(_channel_conv, _init_channel_conv, (ChannelConv,)),
    "channel_slice": OpBackend(_channel_slice),
    "concat": OpBackend(_concat),
    "radix_softmax": OpBackend(_radix_softmax),
    "radix_combine": OpBackend(_radix_combine),
}
"""The built-in op kinds' lowering, initialization and module classes."""


def plugin_backend(registration: Registration) -> OpBackend:
    """The `OpBackend` an installed package's op names, imported and held to the contract the
    built-ins are (`tests/test_registries.py`); a `PluginError` naming the package if not."""
    plugin = registration.obj
    where = f"the op `{registration.name}` of {registration.source}"
    try:
        backend = plugin.load_backend()
    except Exception as err:  # a third party's import: one line, not a traceback
        raise PluginError(f"{where}: its backend `{plugin.backend}` cannot be loaded: "
                          f"{one_line(err)}") from None
    problem = backend_problem(plugin.op, backend)
    if problem:
        raise PluginError(f"{where}: its backend `{plugin.backend}` {problem}")
    return backend


def backend_problem(op: type[Any], backend: Any) -> str:
    """What is wrong with `backend` as the torch side of the IR op class `op`; "" if nothing."""
    from resnet_spec.ir import Op

    if not isinstance(backend, OpBackend):
        return f"is a {type(backend).__name__}, not a resnet_spec.compiler.ops.OpBackend"
    stateful = op.params is not Op.params or op.buffers is not Op.buffers
    if stateful and backend.init is stateless:
        return "has no `init`, but the op has parameters or buffers to fill"
    if not stateful and backend.init is not stateless:
        return "has an `init`, but the op has no parameters or buffers"
    if op.training_only and not backend.modules:
        # a training-only op lowered to a function call would survive the inference passes
        return "lists no `modules`, but the op is training-only (the passes drop modules)"
    return ""


BACKENDS: Registry[OpBackend] = Registry("resnet_spec.ops", BUILTIN_BACKENDS, plugin_backend)
"""IR op kind -> its lowering, initialization and module classes: the built-ins and the
installed packages' (each imported on first use)."""


def training_only_modules() -> tuple[type[nn.Module], ...]:
    """The module classes of the ops whose IR class is `training_only` (identities in eval)."""
    from resnet_spec.ir import OP_CLASSES

    return tuple(module for kind, op in OP_CLASSES.items() if op.training_only
                 for module in BACKENDS[kind].modules)
