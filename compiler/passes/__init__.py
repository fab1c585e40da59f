"""Inference passes: small rewrites of a module's fx graph that keep its outputs.

Each pass is a frozen dataclass with a `name` and one `apply(module) -> module` method, works on
a flat `torch.fx.GraphModule` (every call a leaf module or a function) and leaves it valid: the
graph is linted and its code regenerated after every pass. `flatten` makes that flat module from
any `nn.Module`, whatever its layout: a straight GraphModule, torchvision's tree of blocks, or a
tree of small GraphModules. So the passes assume nothing about how a model nests its modules.

`optimize_for_inference` runs them in order: drop training-only ops, fold each norm into its
conv, then channels_last. The result computes what the eval-mode module computes (to rounding);
its state_dict has no norm entries, so it is for running, not for saving as torchvision weights.

`fold_norms` (`program.py`) is the same fold on an `ExportedProgram` instead of a module: the
deployment targets hand it to their converters.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Protocol

from torch import fx, nn

from resnet_spec.compiler.passes.channels_last import ChannelsLast
from resnet_spec.compiler.passes.drop_training import DropTrainingOps
from resnet_spec.compiler.passes.fold_norm import FoldNorm, fold_norm_into_conv
from resnet_spec.compiler.passes.program import fold_norms

__all__ = [
    "INFERENCE_PASSES", "ChannelsLast", "DropTrainingOps", "FoldNorm", "Pass", "flatten",
    "fold_norm_into_conv", "fold_norms", "optimize_for_inference",
]


class Pass(Protocol):
    """One rewrite of a flat GraphModule that keeps what it computes."""

    name: str

    def apply(self, module: fx.GraphModule) -> fx.GraphModule: ...


INFERENCE_PASSES: tuple[Pass, ...] = (DropTrainingOps(), FoldNorm(), ChannelsLast())
"""What `build(..., for_inference=True)` applies, in this order."""


class _LeafTracer(fx.Tracer):
    """Traces through every container; a module without children is one call."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return next(m.children(), None) is None


def flatten(module: nn.Module) -> fx.GraphModule:
    """One GraphModule whose graph calls `module`'s childless modules by their dotted paths
    (`layer1.0.conv1`), sharing them with `module` (nothing is copied)."""
    tracer = _LeafTracer()
    graph = tracer.trace(module)
    return fx.GraphModule(tracer.root, graph, class_name=type(module).__name__)


def optimize_for_inference(
    module: nn.Module, passes: Sequence[Pass] = INFERENCE_PASSES, *, inplace: bool = False
) -> fx.GraphModule:
    """`module` in eval mode, flattened, with each pass applied in turn. Unless `inplace`, the
    passes work on a copy and `module` keeps its weights."""
    if not inplace:
        module = copy.deepcopy(module)
    flat = flatten(module.eval())
    for p in passes:
        flat = p.apply(flat)
        flat.graph.lint()
        flat.recompile()
    return flat.eval()
