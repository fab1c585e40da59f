"""Fine-tuning: a weights file loaded into everything but the classifier, which starts afresh.

Which tensors are "the classifier" is read from the IR (`Graph.classifier`: the linear nodes of
the `head` stage), not from a name, so a head under any name is found. The new classifier
holds exactly what a fresh build with the same seed holds: the whole module is initialized
from the seed as usual (the classifier's draws depend on every draw before it), then every
other tensor is replaced by the file's. Every key of the file but the classifier's must fit
as strictly as in a plain `--weights` load; the file's own classifier tensors may have any
shape, or be absent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import fx

from resnet_spec.compiler.init import initialize
from resnet_spec.compiler.lower import lower
from resnet_spec.compiler.weights import WeightsError, cast_state, check_fit, load_state_file
from resnet_spec.ir import Graph, Shape


@dataclass(frozen=True)
class Classifier:
    """The head's linear node(s) of a graph: their names and checkpoint keys with shapes."""

    nodes: tuple[str, ...]
    keys: dict[str, Shape]

    @property
    def classes(self) -> int:
        """The classes the (last) linear layer outputs: its weight's first dimension."""
        return self.keys[f"{self.nodes[-1]}.weight"][0]


def classifier(graph: Graph) -> Classifier:
    """The classifier of `graph`; a WeightsError where the network has none to reinitialize
    (`head: none`, or a backbone's `features`)."""
    nodes = graph.classifier()
    if not nodes:
        ending = "`features`" if graph.output_dict else "`head: none`"
        raise WeightsError(
            f"nothing to reinitialize: {graph.name} has no classifier (it ends with {ending})",
            None, "leave out --reinit-head (reinit_head=True): a backbone loads every tensor "
            "it has from the file and leaves the file's classifier unused")
    keys: dict[str, Shape] = {}
    for node in nodes:
        keys.update(node.params())
    return Classifier(tuple(n.name for n in nodes), keys)


def misfit_hint(state: dict[str, torch.Tensor], graph: Graph) -> str:
    """The hint of a plain `--weights` load that does not fit: where the classifier is all that
    differs, how to fine-tune from the file instead."""
    expected = graph.state_shapes()
    nodes = graph.classifier()
    head = {k: s for node in nodes for k, s in node.params().items()}
    differs = {k for k in expected.keys() | state.keys()
               if k not in state or k not in expected or tuple(state[k].shape) != expected[k]}
    if not head or not differs or not differs <= head.keys():
        return "is the file for the same architecture and number of classes?"
    last = nodes[-1].name
    weight = state.get(f"{last}.weight")
    had = f"has {weight.shape[0]} classes" if weight is not None else "is missing"
    return (f"only {', '.join(n.name for n in nodes)} differs (the file's {had}, "
            f"{graph.name}'s has {head[f'{last}.weight'][0]}): to fine-tune from this file, "
            "add --reinit-head (reinit_head=True)")


def with_new_head(graph: Graph, weights: str | os.PathLike[str], *, seed: int,
                  device: torch.device, dtype: torch.dtype,
                  on_note: Callable[[str], None]) -> fx.GraphModule:
    """The module with the file's tensors everywhere but the classifier, which is the seed's."""
    head = classifier(graph)
    read_on = device if device.type != "meta" else torch.device("cpu")
    state = load_state_file(weights, device=read_on)
    old = {k: state.pop(k) for k in head.keys if k in state}
    from resnet_spec.compiler.fit import fit_state

    state = fit_state(state, graph, on_note=on_note)
    body = {k: s for k, s in graph.state_shapes().items() if k not in head.keys}
    check_fit(state, body, model=graph.name, source=os.fspath(weights))
    model = lower(graph, device="meta", dtype=dtype)
    if device.type != "meta":
        model.to_empty(device=device)
        initialize(model, graph, seed=seed)
    state = cast_state(state, dtype, device, source=os.fspath(weights))
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    assert set(missing) == set(head.keys) and not unexpected, (missing, unexpected)
    on_note(reinit_note(head, old, len(state), os.fspath(weights), seed))
    return model


def reinit_note(head: Classifier, old: dict[str, torch.Tensor], loaded: int, source: str,
                seed: int) -> str:
    """`loaded 100 tensors from r18.safetensors; fc (10 classes) initialized from seed 0 (the
    file's fc has 1000)`: what was loaded, what was not, and what the file had instead."""
    names = ", ".join(head.nodes)
    weight = old.get(f"{head.nodes[-1]}.weight")
    if not old:
        had = f"the file has no {names}"
    elif weight is None:
        had = f"the file's {names} was partial"
    elif weight.shape[0] == head.classes:
        had = f"the file's {names} has {head.classes} too: replaced, as asked"
    else:
        had = f"the file's {names} has {weight.shape[0]}"
    return (f"loaded {loaded} tensors from {os.path.basename(source)}; {names} "
            f"({head.classes} classes) initialized from seed {seed} ({had})")
