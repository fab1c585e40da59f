"""Key adapters: checkpoints of models whose layers are ours under other names.

timm's `ResNetV2` (`resnetv2_50`, `resnetv2_101`, `resnetv2_50d`, ...) is the pre-activation
ResNet of He et al. 2016 that the `preact_*` block kinds build, but it names its layers after its
own module tree (`stages.0.blocks.0.norm1`) and stores its classifier as a 1x1 conv
(`head.fc.weight` of shape (classes, features, 1, 1)). `from_timm_resnetv2` renames such a state
dict into this project's names (torchvision's scheme: `layer1.0.bn1`, `fc.weight` of shape
(classes, features)); `to_timm_resnetv2` goes back. Models that standardize their conv weights
(the BiT models, `resnetv2_50x1_bit`, with `StdConv2d`) compute something else: their weights
rename but do not give the same outputs.

As a command, it converts a file for `resnet-spec build --weights`:

    python -m resnet_spec.compiler.adapters resnetv2_50.safetensors ours.safetensors \
        --spec specs/resnetv2_50.yaml
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Mapping

import torch

_STEM = {"stem.conv": "conv1", "stem.conv1": "conv1.0", "stem.norm1": "conv1.1",
         "stem.conv2": "conv1.3", "stem.norm2": "conv1.4", "stem.conv3": "conv1.6"}
_BLOCK = re.compile(r"^stages\.(\d+)\.blocks\.(\d+)\.(.+)$")
_INSIDE = {"norm1": "bn1", "norm2": "bn2", "norm3": "bn3", "conv1": "conv1", "conv2": "conv2",
           "conv3": "conv3"}


def _our_name(key: str, downsample_conv: str) -> str:
    module, _, tensor = key.rpartition(".")
    if module in _STEM:
        return f"{_STEM[module]}.{tensor}"
    if module in ("norm", "head.fc"):
        return f"{'fc' if module == 'head.fc' else 'norm'}.{tensor}"
    found = _BLOCK.match(module)
    if found is None:
        raise KeyError(f"{key!r} is not a key of timm's ResNetV2")
    stage, block, inner = found.groups()
    inner = downsample_conv if inner == "downsample.conv" else _INSIDE.get(inner, "")
    if not inner:
        raise KeyError(f"{key!r} is not a key of timm's ResNetV2")
    return f"layer{int(stage) + 1}.{block}.{inner}.{tensor}"


def from_timm_resnetv2(state: Mapping[str, torch.Tensor],
                       expected: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
    """A timm ResNetV2 state dict under this project's names, the classifier made linear.

    `expected` (the graph's `state_shapes()` keys) tells where a shortcut conv goes: a
    projection's is `downsample.0`, an `avg_down` shortcut's `downsample.1` (after its pool);
    without it, `downsample.0`.
    """
    keys = set(expected or ())
    avg_down = any(re.search(r"\.downsample\.1\.weight$", k) for k in keys)
    conv = "downsample.1" if avg_down else "downsample.0"
    out = {}
    for key, value in state.items():
        name = _our_name(key, conv)
        out[name] = value.flatten(1) if name == "fc.weight" and value.dim() == 4 else value
    return out


def to_timm_resnetv2(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """This project's state dict of a pre-activation net under timm's ResNetV2 names."""
    back = _inverse(state)
    return {back(key): value[..., None, None] if key == "fc.weight" else value
            for key, value in state.items()}


def _inverse(state: Mapping[str, torch.Tensor]) -> Callable[[str], str]:
    avg_down = any(re.search(r"\.downsample\.1\.weight$", k) for k in state)
    conv = "downsample.1" if avg_down else "downsample.0"
    stem = {ours: theirs for theirs, ours in _STEM.items()}
    inside = {ours: theirs for theirs, ours in _INSIDE.items()}
    inside[conv] = "downsample.conv"

    def name(key: str) -> str:
        module, _, tensor = key.rpartition(".")
        if module in stem or module in ("norm", "fc"):
            module = stem.get(module, "head.fc" if module == "fc" else module)
            return f"{module}.{tensor}"
        layer, block, inner = re.match(r"^layer(\d+)\.(\d+)\.(.+)$", module).groups()  # type: ignore[union-attr]
        return f"stages.{int(layer) - 1}.blocks.{block}.{inside[inner]}.{tensor}"

    return name


def main(argv: list[str] | None = None) -> int:
    """Convert a timm ResNetV2 weights file to this project's names."""
    from safetensors.torch import save_file

    from resnet_spec.compiler.weights import load_state_file
    from resnet_spec.elaboration import elaborate_unchecked
    from resnet_spec.spec.loader import load

    parser = argparse.ArgumentParser(prog="python -m resnet_spec.compiler.adapters",
                                     description=main.__doc__)
    parser.add_argument("source", help="timm ResNetV2 state dict (.safetensors, .pt, .pth)")
    parser.add_argument("target", help="where to write the renamed .safetensors")
    parser.add_argument("--spec", help="the spec the weights are for (tells avg_down shortcuts)")
    args = parser.parse_args(argv)
    expected = elaborate_unchecked(load(args.spec)).state_shapes() if args.spec else None
    state = from_timm_resnetv2(load_state_file(args.source), expected)
    save_file({k: v.contiguous() for k, v in state.items()}, args.target)
    print(f"{len(state)} tensors written to {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
