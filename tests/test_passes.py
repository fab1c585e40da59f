"""Inference passes: the folding arithmetic alone, each pass's guards, and the whole sequence
on our flat module, on torchvision's tree of blocks and on a tree of small GraphModules (the
layout the compiled module may take), always against the eval-mode module's outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from norm_statistics import scrambled
from torch import fx, nn

import resnet_spec
from resnet_spec.compiler.passes import (
    ChannelsLast,
    DropTrainingOps,
    FoldNorm,
    flatten,
    fold_norm_into_conv,
    optimize_for_inference,
)

torchvision = pytest.importorskip("torchvision")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def image(n: int = 2, size: int = 64) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(n))


def assert_same_outputs(a: nn.Module, b: nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        want, got = a(x), b(x)
    scale = max(1.0, float(want.abs().max()))
    torch.testing.assert_close(got, want, atol=1e-5 * scale, rtol=1e-4)


@pytest.mark.parametrize(("groups", "bias"), [(1, False), (1, True), (4, True)])
def test_folding_arithmetic_equals_conv_then_norm(groups: int, bias: bool) -> None:
    gen = torch.Generator().manual_seed(groups)
    conv = nn.Conv2d(8, 12, 3, padding=1, groups=groups, bias=bias)
    norm = scrambled(nn.BatchNorm2d(12), groups)
    weight, folded_bias = fold_norm_into_conv(conv.weight, conv.bias, norm.running_mean,
                                              norm.running_var, norm.eps, norm.weight,
                                              norm.bias)
    x = torch.randn(2, 8, 9, 9, generator=gen)
    with torch.no_grad():
        expected = norm(conv(x))
        got = nn.functional.conv2d(x, weight, folded_bias, padding=1, groups=groups)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    half, _ = fold_norm_into_conv(conv.weight.half(), None, norm.running_mean,
                                  norm.running_var, norm.eps, None, None)
    assert half.dtype == torch.float16


@pytest.mark.parametrize("name", ["resnet18", "resnext50_32x4d"])
def test_torchvision_tree_folds_and_computes_the_same(name: str) -> None:
    """torchvision's module tree: Sequential stages of blocks with their own forward."""
    model = scrambled(torchvision.models.get_model(name))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = optimize_for_inference(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert_same_outputs(model, fast, image())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items()), \
        "the module passed in keeps its weights"


def test_a_tree_of_small_graph_modules_is_flattened() -> None:
    """Blocks that are GraphModules inside an nn.Sequential, as the compiled module may be."""
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.bn(self.conv(x)) + x)

    model = scrambled(nn.Sequential(fx.symbolic_trace(Block()), fx.symbolic_trace(Block()),
                                    nn.Dropout(0.3)))
    flat = flatten(model)
    calls = [n.target for n in flat.graph.nodes if n.op == "call_module"]
    assert calls == ["0.conv", "0.bn", "1.conv", "1.bn", "2"]
    fast = optimize_for_inference(model)
    assert [n.target for n in fast.graph.nodes if n.op == "call_module"] == ["0.conv", "1.conv"]
    assert_same_outputs(model, fast, torch.randn(2, 4, 6, 6))


def test_build_for_inference_is_the_eval_module_folded() -> None:
    graph = resnet_spec.elaborate("cifar_resnet20")
    plain = scrambled(resnet_spec.build(graph, seed=3))
    fast = resnet_spec.build(graph, seed=3, for_inference=True)
    assert not fast.training
    assert not any(k.startswith("bn1") or ".bn" in k for k in fast.state_dict())
    assert fast.get_submodule("conv1").bias is not None
    assert fast.get_submodule("conv1").weight.is_contiguous(memory_format=torch.channels_last)
    again = resnet_spec.build(graph, seed=3).eval()
    assert_same_outputs(again, fast, image(3, 32))
    assert any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())


def test_training_only_ops_are_dropped(tmp_path: Path) -> None:
    from resnet_spec.compiler.lower import DropPath

    spec = tmp_path / "drop.yaml"
    spec.write_text("extends: cifar_resnet20\nname: drop\nhead: {dropout: 0.5}\n"
                    "block: {drop_path: 0.2}\n")
    model = resnet_spec.build(spec).eval()
    for kind in (nn.Dropout, DropPath):
        assert any(isinstance(m, kind) for m in model.modules())
    fast = optimize_for_inference(model, (DropTrainingOps(),))
    assert not any(isinstance(m, (nn.Dropout, DropPath)) for m in fast.modules())
    assert_same_outputs(model, fast, image(2, 32))
    built = resnet_spec.build(spec, for_inference=True)
    assert not any(isinstance(m, (nn.Dropout, DropPath)) for m in built.modules())


def test_group_norm_and_training_norms_are_never_folded(tmp_path: Path) -> None:
    spec = tmp_path / "gn.yaml"
    spec.write_text("extends: resnet18\nname: gn\ninput: {height: 32, width: 32}\n"
                    "norm: {kind: group, groups: 32}\n")
    model = resnet_spec.build(spec).eval()
    fast = optimize_for_inference(model, (FoldNorm(),))
    assert sum(isinstance(m, nn.GroupNorm) for m in fast.modules()) == sum(
        isinstance(m, nn.GroupNorm) for m in model.modules()) > 0
    assert_same_outputs(model, fast, image(2, 32))
    training = flatten(nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)).train())
    assert any(isinstance(m, nn.BatchNorm2d) for m in FoldNorm().apply(training).modules())


def test_a_conv_read_twice_is_not_folded() -> None:
    class Fork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return self.bn(y) + y

    model = scrambled(Fork())
    fast = optimize_for_inference(model, (FoldNorm(),))
    assert isinstance(fast.get_submodule("bn"), nn.BatchNorm2d)
    assert_same_outputs(model, fast, torch.randn(2, 3, 4, 4))


def test_channels_last_converts_the_input_once() -> None:
    model = resnet_spec.build("cifar_resnet20").eval()
    fast = optimize_for_inference(model, (ChannelsLast(),))
    first = next(n for n in fast.graph.nodes if n.op != "placeholder")
    assert first.target == "contiguous"
    assert first.kwargs["memory_format"] == torch.channels_last
    assert_same_outputs(model, fast, image(2, 32))
