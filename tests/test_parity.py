"""Parity with torchvision and timm: the same state_dict names and shapes, and the same outputs
from the same weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import resnet_spec

torchvision = pytest.importorskip("torchvision")

TORCHVISION = [
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
    "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", TORCHVISION)
def test_state_dict_names_and_shapes_equal_torchvision(name: str) -> None:
    with torch.device("meta"):
        theirs = torchvision.models.get_model(name)
    ours = resnet_spec.build(name, device="meta")
    assert shapes(ours) == shapes(theirs)


def scramble_norms(model: torch.nn.Module, seed: int) -> None:
    """Random norm statistics and affine terms, so that eval-mode norms are not identities."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0, 0.1, generator=gen)
                m.running_mean.normal_(0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)


def image(seed: int = 0) -> torch.Tensor:
    return torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d"])
def test_torchvision_weights_give_torchvision_outputs(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    theirs = torchvision.models.get_model(name).eval()
    scramble_norms(theirs, 1)
    file = tmp_path / f"{name}.safetensors"
    save_file(theirs.state_dict(), file)
    ours = resnet_spec.build(name, weights=file).eval()
    loaded = resnet_spec.build(name, device="meta")
    loaded.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    x = image()
    with torch.no_grad():
        expected = theirs(x)
        torch.testing.assert_close(ours(x), expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(loaded.eval()(x), expected, atol=1e-5, rtol=1e-5)


def test_timm_resnet50_weights_load_strictly_and_agree() -> None:
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    theirs = timm.create_model("resnet50", pretrained=False).eval()
    scramble_norms(theirs, 2)
    ours = resnet_spec.build("resnet50", device="meta")
    ours.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    x = image(1)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), theirs(x), atol=1e-5, rtol=1e-5)
