"""Norms folded into convs inside an ExportedProgram (`compiler/passes/program.py`): what the
deployment converters take. Always compared with the eval-mode module, at two batch sizes (the
program's batch stays dynamic), on the block types and norms the family has."""

from __future__ import annotations

import pytest
import torch
from norm_statistics import scrambled
from torch import nn

import resnet_spec
from resnet_spec.compiler.export import export_program
from resnet_spec.compiler.passes import fold_norms

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = ["input.height=64", "input.width=64"]


def norm_calls(program: torch.export.ExportedProgram) -> int:
    names = ("batch_norm", "_native_batch_norm_legit")
    return sum(1 for n in program.graph.nodes
               if n.op == "call_function" and any(k in str(n.target) for k in names))


def exported(spec: str, overrides: list[str]) -> tuple[nn.Module, torch.export.ExportedProgram]:
    graph = resnet_spec.elaborate(spec, overrides=overrides)
    module = scrambled(resnet_spec.build(graph))
    return module, export_program(module, graph)


def assert_same_outputs(module: nn.Module, program: torch.export.ExportedProgram,
                        shape: tuple[int, ...]) -> None:
    runnable = program.module()
    for batch in (1, 3):
        x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            want, got = module(x), runnable(x)
        scale = max(1.0, float(want.abs().max()))
        torch.testing.assert_close(got, want, atol=1e-5 * scale, rtol=1e-4)


@pytest.mark.parametrize(("spec", "overrides"), [
    ("resnet18", SMALL),
    ("cifar_resnet20", []),  # zero-padded shortcuts: a conv-free path
    ("resnext50_32x4d", SMALL),  # grouped convs
    ("seresnet50", SMALL),  # squeeze-excite convs between the norms
    ("resnet50d", SMALL),  # avg-pool downsample before its conv and norm
])
def test_every_conv_norm_pair_folds_and_outputs_stay(spec: str, overrides: list[str]) -> None:
    module, program = exported(spec, overrides)
    before = (len(program.graph.nodes), dict(program.state_dict))
    folded = fold_norms(program)
    assert norm_calls(program) > 0 and norm_calls(folded) == 0
    assert not any("running_" in key or "num_batches" in key for key in folded.state_dict)
    assert len(folded.graph_signature.input_specs) < len(program.graph_signature.input_specs)
    assert_same_outputs(module, folded, tuple(resnet_spec.elaborate(
        spec, overrides=overrides).input_shape))
    # the build's own program (model.pt2) is left as it was
    assert len(program.graph.nodes) == before[0]
    assert all(program.state_dict[k] is v for k, v in before[1].items())


def test_pre_activation_folds_only_norms_that_follow_a_conv() -> None:
    module, program = exported("resnetv2_50", SMALL)
    folded = fold_norms(program)
    # each block's first norm reads the block input (no conv before it): it stays
    assert 0 < norm_calls(folded) < norm_calls(program)
    assert_same_outputs(module, folded, (3, 64, 64))


def test_the_decomposed_spelling_folds_too() -> None:
    """After `run_decompositions` a norm is `_native_batch_norm_legit_no_training` + getitem and
    a conv is `aten.convolution`: what older torch versions export directly."""
    module, program = exported("resnet18", SMALL)
    decomposed = program.run_decompositions()
    assert any("convolution" in str(n.target) for n in decomposed.graph.nodes)
    folded = fold_norms(decomposed)
    assert norm_calls(decomposed) > 0 and norm_calls(folded) == 0
    assert_same_outputs(module, folded, (3, 64, 64))


def test_group_norm_is_never_folded() -> None:
    module, program = exported("resnet18", [*SMALL, "norm.kind=group", "norm.groups=32"])
    assert fold_norms(program) is program  # nothing to fold, no unused weight
    assert_same_outputs(module, program, (3, 64, 64))


class Fork(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 3, 1, bias=False), nn.BatchNorm2d(3)
        self.conv2, self.bn2 = nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + y + self.bn2(self.conv2(x))


def test_a_conv_read_twice_or_a_norm_without_bias_is_left_alone() -> None:
    module = scrambled(Fork())
    x = torch.randn(2, 3, 4, 4)
    program = torch.export.export(module, (x,))
    folded = fold_norms(program)
    assert norm_calls(folded) == norm_calls(program) == 2
    with torch.no_grad():
        torch.testing.assert_close(folded.module()(x), module(x))
