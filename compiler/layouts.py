"""Checkpoint layouts: other libraries' names for the same tensors, recognized and renamed.

A weights file for a built-in usually carries the names of the library it comes from. Where
those are this project's (torchvision's ResNets, timm's ResNet family), nothing happens here.
Where a library names the same layers after its own module tree, the file's layout is
recognized by a key only that layout has, every key is renamed, and the build says which layout
it read. A file that matches no known layout, or whose renamed keys still do not fit, is left to
the strict check (`weights.check_fit`), which names what is missing.

| layout | recognized by | e.g. |
|---|---|---|
| timm's ResNetV2 | `stages.N.blocks.N.` | `resnetv2_50` (`adapters.py`) |
| timm's RegNet | `sN.bN.` | `regnetx_002`, `regnety_016` |
| torchvision's RegNet | `trunk_output.blockN.` | `regnet_y_400mf` |
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import torch

from resnet_spec.compiler.adapters import from_timm_resnetv2

State = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Layout:
    """One library's names for this project's layers."""

    name: str
    """What the build's note calls it: `timm's RegNet`."""
    marker: re.Pattern[str]
    """Matches a key that only this layout has."""
    convert: Callable[[Mapping[str, torch.Tensor], Iterable[str]], State]
    """(the file's state dict, the model's keys) -> the state dict under this project's
    names; KeyError for a key the layout does not know."""


_TIMM_REGNET_BLOCK = re.compile(r"^s(\d+)\.b(\d+)\.(.+)$")
_TIMM_REGNET_INSIDE = {"conv1.conv": "conv1", "conv1.bn": "bn1", "conv2.conv": "conv2",
                       "conv2.bn": "bn2", "conv3.conv": "conv3", "conv3.bn": "bn3",
                       "se.fc1": "se.fc1", "se.fc2": "se.fc2", "downsample.conv": "downsample.0",
                       "downsample.bn": "downsample.1"}
_TV_REGNET_BLOCK = re.compile(r"^trunk_output\.block(\d+)\.block\d+-(\d+)\.(.+)$")
_TV_REGNET_INSIDE = {"f.a.0": "conv1", "f.a.1": "bn1", "f.b.0": "conv2", "f.b.1": "bn2",
                     "f.se.fc1": "se.fc1", "f.se.fc2": "se.fc2", "f.c.0": "conv3",
                     "f.c.1": "bn3", "proj.0": "downsample.0", "proj.1": "downsample.1"}


def _renamed(state: Mapping[str, torch.Tensor], name: Callable[[str, str], str]) -> State:
    out = {}
    for key, value in state.items():
        module, _, tensor = key.rpartition(".")
        out[f"{name(module, key)}.{tensor}"] = value
    return out


def _regnet_layout(top: Mapping[str, str], block: re.Pattern[str], inside: Mapping[str, str],
                   first_block: int) -> Callable[[Mapping[str, torch.Tensor], Iterable[str]],
                                                  State]:
    """A RegNet layout's renaming: `top`'s stem and head modules, and the blocks `block`
    matches (stage, block number counted from `first_block`, the module inside it)."""

    def convert(state: Mapping[str, torch.Tensor], expected: Iterable[str]) -> State:
        def name(module: str, key: str) -> str:
            if module in top:
                return top[module]
            found = block.match(module)
            if found is None or found[3] not in inside:
                raise KeyError(key)
            stage, number, part = found.groups()
            return f"layer{stage}.{int(number) - first_block}.{inside[part]}"

        return _renamed(state, name)

    return convert


_timm_regnet = _regnet_layout({"stem.conv": "conv1", "stem.bn": "bn1", "head.fc": "fc"},
                              _TIMM_REGNET_BLOCK, _TIMM_REGNET_INSIDE, first_block=1)
_torchvision_regnet = _regnet_layout({"stem.0": "conv1", "stem.1": "bn1", "fc": "fc"},
                                     _TV_REGNET_BLOCK, _TV_REGNET_INSIDE, first_block=0)


def _timm_resnetv2(state: Mapping[str, torch.Tensor], expected: Iterable[str]) -> State:
    return from_timm_resnetv2(state, expected)


LAYOUTS: tuple[Layout, ...] = (
    Layout("timm's ResNetV2", re.compile(r"^stages\.\d+\.blocks\.\d+\."), _timm_resnetv2),
    Layout("timm's RegNet", re.compile(r"^s\d+\.b\d+\."), _timm_regnet),
    Layout("torchvision's RegNet", re.compile(r"^trunk_output\.block\d+\."), _torchvision_regnet),
)
"""Every layout known, tried in order."""


def our_names(state: State) -> tuple[State, str | None]:
    """`state` under this project's names, and the layout it was renamed from (None where
    its keys are ours already or no layout knows them). Without a model to fit, a timm
    ResNetV2 shortcut conv is read as a projection's."""
    for layout in LAYOUTS:
        if any(layout.marker.match(key) for key in state):
            try:
                return layout.convert(state, ()), layout.name
            except KeyError:
                continue
    return state, None


def recognize(state: State, expected: Mapping[str, object],
              on_note: Callable[[str], None] = lambda note: None) -> State:
    """`state` under this project's names: as it is where its keys are already ours, else
    renamed by the first layout that recognizes it and knows all of its keys (with a note
    saying which), else as it is (the strict check then says what does not fit)."""
    if set(state) == set(expected):
        return state
    for layout in LAYOUTS:
        if not any(layout.marker.match(key) for key in state):
            continue
        try:
            renamed = layout.convert(state, expected)
        except KeyError:
            continue
        on_note(f"the weights file has {layout.name} layout: {len(renamed)} keys renamed to "
                "this model's names")
        return renamed
    return state
