"""Fold each eval-mode batch norm into the conv before it.

In eval mode `bn(conv(x))` is an affine map per output channel, so it equals one conv with
scaled weights and a bias. The arithmetic is a pure tensor function (`fold_norm_into_conv`); the
pass only finds `conv -> batch norm` pairs where the conv's output feeds nothing else, and
rewrites them. Group norm depends on the input's own statistics and is never folded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import fx, nn


def fold_norm_into_conv(
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    mean: torch.Tensor,
    var: torch.Tensor,
    eps: float,
    gamma: torch.Tensor | None,
    beta: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight and bias of the conv that computes `norm(conv(x))`, norm in eval mode.

    Computed in float64 and returned in `weight`'s dtype, so a half-precision model loses no
    more than one rounding.
    """
    w, m, v = weight.double(), mean.double(), var.double()
    scale = torch.rsqrt(v + eps)
    if gamma is not None:
        scale = scale * gamma.double()
    shift = (bias.double() if bias is not None else torch.zeros_like(m)) - m
    folded_bias = shift * scale + (beta.double() if beta is not None else 0.0)
    folded_weight = w * scale.reshape(-1, *([1] * (w.dim() - 1)))
    return folded_weight.to(weight.dtype), folded_bias.to(weight.dtype)


def _foldable(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    """`node` is an eval-mode batch norm with running statistics, fed by a conv used only here."""
    if node.op != "call_module" or not isinstance(modules[node.target], nn.BatchNorm2d):
        return False
    norm = modules[node.target]
    if norm.training or norm.running_mean is None or norm.running_var is None:
        return False
    source = node.args[0]
    return (isinstance(source, fx.Node) and source.op == "call_module"
            and isinstance(modules[source.target], nn.Conv2d) and len(source.users) == 1)


def _folded_conv(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> nn.Conv2d:
    weight, bias = fold_norm_into_conv(conv.weight, conv.bias, norm.running_mean,
                                       norm.running_var, norm.eps, norm.weight, norm.bias)
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                       conv.padding, conv.dilation, conv.groups, bias=True,
                       padding_mode=conv.padding_mode, device="meta")
    folded.weight = nn.Parameter(weight, requires_grad=False)
    folded.bias = nn.Parameter(bias, requires_grad=False)
    return folded.eval()


@dataclass(frozen=True)
class FoldNorm:
    """conv -> batch norm (eval mode) becomes one conv with a bias."""

    name: str = "fold_norm"

    def apply(self, module: fx.GraphModule) -> fx.GraphModule:
        modules = dict(module.named_modules())
        for node in list(module.graph.nodes):
            if not _foldable(node, modules):
                continue
            conv_node = node.args[0]
            module.set_submodule(conv_node.target, _folded_conv(modules[conv_node.target],
                                                                 modules[node.target]))
            node.replace_all_uses_with(conv_node)
            module.graph.erase_node(node)
        module.delete_all_unused_submodules()
        return module
