"""resnet-spec: a declarative architecture compiler for the ResNet family.

The front end (this package) loads YAML specs, elaborates them into a checked graph IR, and
computes costs and diagrams without importing torch. `build` hands the IR to the `compiler`
back end, importing torch only when called.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from resnet_spec.errors import SpecError
from resnet_spec.ir import Graph
from resnet_spec.spec.loader import SpecInput, load
from resnet_spec.spec.schema import Spec
from resnet_spec.version import __version__

if TYPE_CHECKING:
    import torch

__all__ = ["Graph", "Spec", "SpecError", "SpecInput", "__version__", "build", "elaborate",
           "load"]


def elaborate(spec: SpecInput, overrides: Sequence[str] = ()) -> Graph:
    """The checked graph IR of a spec: a path, a built-in name, a spec file's content as a
    dict (`{"extends": "resnet18", "head": {"classes": 10}}`), or a `Spec`.

    `overrides` are `--set`'s `PATH=VALUE` strings, applied after `extends` (see `load`).
    Raises `SpecError` (located at the spec entry responsible; for a dict, at `<dict>` and the
    field's path) when a check fails; warnings are kept in `graph.warnings`.
    """
    from resnet_spec.elaboration import elaborate as elaborate_checked

    return elaborate_checked(load(spec, overrides))


def build(
    spec: SpecInput | Graph,
    *,
    overrides: Sequence[str] = (),
    weights: str | os.PathLike[str] | None = None,
    seed: int = 0,
    for_inference: bool = False,
    device: Any = None,
    dtype: Any = None,
    reinit_head: bool = False,
    feature_keys: str = "names",
) -> torch.nn.Module:
    """Compile a spec into a torch module (torch is imported here, not before).

    `spec` is anything `elaborate` takes (a path, a built-in name, a dict, a `Spec`, with
    `overrides`), or an already elaborated `Graph`.

    `weights` is a safetensors or `.pt`/`.pth` state_dict file loaded without random init;
    otherwise parameters are initialized from `seed`. With `reinit_head=True` (fine-tuning)
    everything but the classifier loads from `weights` and the classifier is initialized from
    `seed`, as a build without weights would (a note goes to the `resnet_spec` logger).
    The module has torchvision's and timm's names and layout; call `.eval()` on it for
    inference with those weights.

    The module also has timm's model API (`forward_features`, `forward_head`,
    `reset_classifier`, `num_classes`, `num_features`, `pretrained_cfg`, `feature_info`,
    `set_grad_checkpointing`); a backbone has `out_channels`, and with
    `feature_keys="torchvision"` a backbone's `features` come keyed `'0'`, `'1'`, ... as
    torchvision's detection models expect.

    `for_inference=True` returns instead the module for running only: eval mode, each batch norm
    folded into its conv, dropout dropped, channels_last (the passes of
    `resnet_spec.compiler.passes`). It computes what the eval-mode module computes, to rounding,
    but its state_dict has no norm entries, so save weights from the module built without it.
    """
    from resnet_spec.compiler import compile_graph

    graph = spec if isinstance(spec, Graph) else elaborate(spec, overrides)
    return compile_graph(
        graph, weights=weights, seed=seed, for_inference=for_inference, device=device, dtype=dtype,
        reinit_head=reinit_head, feature_keys=feature_keys,
    )
