"""Making a weights file fit where the difference has one meaning: the classifier a backbone
does not have, and a stem conv for another number of input channels.

- A classifier checkpoint (torchvision's or timm's ResNet-50, ...) loaded into a backbone of
  the same network (`head: none`, with or without `features`): the file's classifier, the
  tensors under the name the head's linear layer would have (`fc.weight`, `fc.bias`), is left
  unused. Only that: any other key the network lacks is still an error.
- 3-channel weights loaded into a stem that reads 1, 2, 4 or more channels (`input: {channels:
  1}`): each conv that reads the input gets the file's weight adapted as timm's `in_chans`
  does. For one channel the file's channels are summed (a gray image repeated over the file's
  channels gives the same response); for C channels the file's channels are repeated in turn
  up to C and scaled by (file channels)/C, so a conv's response keeps its scale.

Each adaptation is said in a note. Nothing here guesses: a file whose other tensors do not fit
reaches `weights.check_fit` unchanged and is refused there.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from resnet_spec.elaboration.heads import CLASSIFIER
from resnet_spec.ir import Graph

Note = Callable[[str], None]


def fit_state(state: dict[str, torch.Tensor], graph: Graph, *, on_note: Note
              ) -> dict[str, torch.Tensor]:
    """`state` with the unused classifier of a backbone dropped and stem convs adapted to the
    graph's input channels, each change said through `on_note`; anything else as it was."""
    state = _without_unused_classifier(state, graph, on_note)
    return _with_input_channels(state, graph, on_note)


def unused_classifier(state: dict[str, torch.Tensor], graph: Graph) -> list[str]:
    """The keys of `state` that are a classifier `graph` does not have: the weight (and bias)
    of the head's linear layer, `fc`, where the network has no head. Empty otherwise."""
    if graph.classifier():
        return []
    expected = graph.state_shapes()
    weight = state.get(f"{CLASSIFIER}.weight")
    bias = state.get(f"{CLASSIFIER}.bias")
    keys = [k for k in (f"{CLASSIFIER}.weight", f"{CLASSIFIER}.bias") if k in state]
    if weight is None or weight.dim() != 2 or any(k in expected for k in keys):
        return []
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        return []
    return keys


def _without_unused_classifier(state: dict[str, torch.Tensor], graph: Graph, on_note: Note
                               ) -> dict[str, torch.Tensor]:
    unused = unused_classifier(state, graph)
    if not unused:
        return state
    classes, features = state[unused[0]].shape
    on_note(f"left the file's classifier unused: {', '.join(unused)} ({classes} classes from "
            f"{features} features); {graph.name} has no head")
    return {k: v for k, v in state.items() if k not in unused}


def stem_convs(graph: Graph) -> list[str]:
    """The names of the convs that read the network's input."""
    return [name for name in graph.users(graph.input) if graph.node(name).op == "conv"]


def _with_input_channels(state: dict[str, torch.Tensor], graph: Graph, on_note: Note
                         ) -> dict[str, torch.Tensor]:
    expected = graph.state_shapes()
    changed = dict(state)
    for name in stem_convs(graph):
        key = f"{name}.weight"
        weight, want = state.get(key), expected[key]
        if weight is None or graph.node(name).groups != 1 or weight.dim() != 4:
            continue
        if (weight.shape[0], *weight.shape[2:]) != (want[0], *want[2:]):
            continue  # not the same conv: check_fit names it
        if weight.shape[1] == want[1]:
            continue
        changed[key] = adapt_input_channels(weight, want[1])
        how = ("summed over the file's channels" if want[1] == 1 else
               f"the file's channels repeated and scaled by {weight.shape[1]}/{want[1]}")
        on_note(f"adapted {key} from {weight.shape[1]} to {want[1]} input channels ({how}, "
                "as timm's in_chans)")
    return changed


def adapt_input_channels(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """A conv weight (out, C_file, k, k) for `channels` input channels, in its own dtype."""
    dtype = weight.dtype
    work = weight.float()
    if channels == 1:
        work = work.sum(dim=1, keepdim=True)
    else:
        given = work.shape[1]
        repeats = math.ceil(channels / given)
        work = work.repeat(1, repeats, 1, 1)[:, :channels] * (given / channels)
    return work.to(dtype).contiguous()
