"""Drop the ops that do nothing in eval mode: dropout of every kind, and identities.

A dropped call's users read its input instead. Which modules count: torch's dropouts and
`nn.Identity`, and the modules of every IR op whose class is `training_only` (drop-path), as
their registrations in `compiler/ops.py` list them; which functions: torch's dropouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from resnet_spec.compiler.ops import training_only_modules

TRAINING_ONLY_MODULES: tuple[type[nn.Module], ...] = (
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
    nn.FeatureAlphaDropout, nn.Identity, *training_only_modules(),
)
TRAINING_ONLY_FUNCTIONS: frozenset[Any] = frozenset({
    F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout,
    F.feature_alpha_dropout, torch.dropout,
})


def _training_only(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    if node.op == "call_module":
        return isinstance(modules[node.target], TRAINING_ONLY_MODULES)
    return node.op == "call_function" and node.target in TRAINING_ONLY_FUNCTIONS


@dataclass(frozen=True)
class DropTrainingOps:
    """Every dropout and identity call is replaced by its input."""

    name: str = "drop_training_ops"

    def apply(self, module: fx.GraphModule) -> fx.GraphModule:
        modules = dict(module.named_modules())
        for node in list(module.graph.nodes):
            if _training_only(node, modules) and isinstance(node.args[0], fx.Node):
                node.replace_all_uses_with(node.args[0])
                module.graph.erase_node(node)
        module.delete_all_unused_submodules()
        return module
