"""The torch back end: the checked IR into a `torch.fx.GraphModule`, the only package that
imports torch.

`compile_graph` builds the module on the meta device (nothing allocated, nothing drawn), then
either assigns the tensors of a weights file or allocates each tensor once and initializes it
from the seed. See `lower` (IR -> fx), `init` (torchvision's scheme) and `weights` (files).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import torch
from torch import fx

from resnet_spec.compiler.init import initialize
from resnet_spec.compiler.lower import lower
from resnet_spec.compiler.weights import WeightsError, cast_state, check_fit, load_state_file
from resnet_spec.ir import Graph

__all__ = ["WeightsError", "compile_graph", "load_state_file", "lower"]


def compile_graph(
    graph: Graph,
    *,
    weights: str | os.PathLike[str] | None = None,
    seed: int = 0,
    for_inference: bool = False,
    device: Any = None,
    dtype: torch.dtype | str | None = None,
    reinit_head: bool = False,
    on_note: Callable[[str], None] | None = None,
    feature_keys: str = "names",
) -> fx.GraphModule:
    """The torch module of a checked IR graph.

    `weights`: a safetensors or torch state dict file whose keys and shapes must equal the
    graph's (`WeightsError` lists the ones that do not); without it, parameters are initialized
    from `seed`. Two differences are adapted, each with a note (`compiler.fit`): a backbone
    leaves the file's classifier unused, and a stem for other than the file's input channels
    gets the file's first conv adapted as timm's `in_chans`. `reinit_head` (fine-tuning, with
    `weights`) loads every tensor but the classifier's (the head's linear layer, whatever the
    file holds there) and initializes the classifier from `seed` exactly as a build without
    weights would (`compiler.head`); it says so through `on_note` (default: the `resnet_spec`
    logger at INFO).

    `feature_keys`: how a backbone with `features` keys the maps it returns: `names` (the
    spec's: `stem`, `stage1`, ...) or `torchvision` (`'0'`, `'1'`, ... in order, the keys
    torchvision's `MultiScaleRoIAlign` and detection models expect by default).

    `device` (default CPU; `meta` allocates nothing) and `dtype` (default torch's
    default dtype) place every floating tensor.

    `for_inference` returns the module for running only: eval mode, flattened, with the
    inference passes applied (`resnet_spec.compiler.passes`: dropout dropped, each batch norm
    folded into its conv, channels_last). Its outputs are the eval-mode module's (to rounding),
    but its state_dict has no norm entries: for torchvision-named weights use `.eval()` on the
    module built without it.
    """
    if feature_keys not in ("names", "torchvision"):
        raise ValueError(f"feature_keys={feature_keys!r}: expected 'names' or 'torchvision'")
    device = torch.device(device if device is not None else "cpu")
    dtype = _dtype(dtype)
    if reinit_head:
        if weights is None:
            raise ValueError("reinit_head=True needs weights: the file to fine-tune from")
        from resnet_spec.compiler.head import with_new_head

        model = with_new_head(graph, weights, seed=seed, device=device, dtype=dtype,
                              on_note=on_note or logging.getLogger("resnet_spec").info)
    elif weights is not None:
        model = _with_weights(graph, weights, device, dtype,
                              on_note or logging.getLogger("resnet_spec").info)
    else:
        model = lower(graph, device="meta", dtype=dtype)
        if device.type != "meta":
            model.to_empty(device=device)
            initialize(model, graph, seed=seed)
    if feature_keys == "torchvision" and graph.output_dict:
        model.rename_outputs([str(i) for i in range(len(graph.outputs))])
    if for_inference:
        from resnet_spec.compiler.passes import optimize_for_inference

        return optimize_for_inference(model, inplace=True)
    return model


def _with_weights(graph: Graph, weights: str | os.PathLike[str], device: torch.device,
                  dtype: torch.dtype, on_note: Callable[[str], None]) -> fx.GraphModule:
    """Load before lowering, so a file that does not fit costs no module; then assign."""
    read_on = device if device.type != "meta" else torch.device("cpu")
    state = load_state_file(weights, device=read_on)
    from resnet_spec.compiler.fit import fit_state
    from resnet_spec.compiler.head import misfit_hint
    from resnet_spec.compiler.layouts import recognize

    state = recognize(state, graph.state_shapes(), on_note)
    state = fit_state(state, graph, on_note=on_note)
    check_fit(state, graph.state_shapes(), model=graph.name, source=os.fspath(weights),
              hint=misfit_hint(state, graph))
    state = cast_state(state, dtype, device, source=os.fspath(weights))
    model = lower(graph, device="meta", dtype=dtype)
    model.load_state_dict(state, strict=True, assign=True)
    return model


def _dtype(dtype: torch.dtype | str | None) -> torch.dtype:
    """A torch dtype from a dtype, its name (`float16`, `torch.float16`) or None (default)."""
    if dtype is None:
        return torch.get_default_dtype()
    if isinstance(dtype, torch.dtype):
        return dtype
    found = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(found, torch.dtype):
        raise ValueError(f"not a torch dtype: {dtype!r}")
    return found
