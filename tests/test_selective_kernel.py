"""Selective-kernel blocks (`kind: sk_basic`, `kind: sk_bottleneck`) against timm's own
SelectiveKernel blocks built with options the built-ins (skresnet18, skresnext50_32x4d, in
test_variants_parity) leave at their defaults: three paths, dilated networks; and the rule that
split inputs must divide among the paths."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_parity import scramble_norms, shapes

import resnet_spec
from resnet_spec.errors import SpecError

timm = pytest.importorskip("timm")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _compare(ours: torch.nn.Module, theirs: torch.nn.Module, size: int = 64) -> None:
    scramble_norms(theirs.eval(), 7)
    assert list(shapes(ours).items()) == list(shapes(theirs).items())
    ours.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), theirs(x), atol=1e-5, rtol=1e-5)


def test_three_split_paths_match_timms_selective_kernel() -> None:
    from timm.models.resnet import ResNet
    from timm.models.sknet import SelectiveKernelBottleneck

    torch.manual_seed(7)
    # kernels 3, 5, 7 as 3x3s at dilations 1, 2, 3; inner widths 48 ... 384 split in three
    theirs = ResNet(block=SelectiveKernelBottleneck, layers=[1, 1, 1, 1], base_width=48,
                    block_args={"sk_kwargs": {"kernel_size": [3, 5, 7], "rd_ratio": 1 / 4,
                                              "split_input": True}})
    spec = {"extends": "resnet50", "name": "sk3",
            "block": {"kind": "sk_bottleneck", "base_width": 48, "paths": 3,
                      "sk_reduction": 4},
            "stages": [{"depth": 1, "width": 64}, {"depth": 1, "width": 128, "stride": 2},
                       {"depth": 1, "width": 256, "stride": 2},
                       {"depth": 1, "width": 512, "stride": 2}]}
    _compare(resnet_spec.build(spec, device="meta"), theirs)


def test_a_dilated_skresnet18_matches_timms() -> None:
    torch.manual_seed(7)
    theirs = timm.create_model("skresnet18", pretrained=False, output_stride=8)
    ours = resnet_spec.build({"extends": "skresnet18", "output_stride": 8}, device="meta")
    graph = resnet_spec.elaborate({"extends": "skresnet18", "output_stride": 8})
    # layer4's first block: dilation 2 for the stage, so paths at 2 and 4
    assert [graph.node(f"layer4.0.conv1.paths.{i}.conv").dilation for i in (0, 1)] == [2, 4]
    _compare(ours, theirs)


def test_the_attention_weighs_the_paths_by_a_softmax() -> None:
    graph = resnet_spec.elaborate("skresnet18")
    softmax = graph.node("layer1.0.conv1.attn.softmax")
    assert (softmax.op, softmax.radix, softmax.cardinality) == ("radix_softmax", 2, 1)
    # 64 channels / 8 = 8, rounded to a multiple of 16 and at least 16
    assert graph.node("layer1.0.conv1.attn.fc_reduce").out_channels == 16
    assert graph.node("layer1.0.conv1.paths.0.conv").in_channels == 32  # split in two


def test_split_inputs_that_the_paths_do_not_divide_are_an_error_at_the_field(
        tmp_path: Path) -> None:
    spec = tmp_path / "sk.yaml"
    spec.write_text("extends: skresnet18\nblock: {kind: sk_basic, paths: 3}\n")
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(spec)
    message = str(caught.value)
    assert message.startswith(f"{spec}:2:32: block.paths: "), message
    assert "`layer1.0.conv1` splits its 64 input channels among 3 paths" in message
    assert "split_input: false" in message
    whole = tmp_path / "whole.yaml"
    whole.write_text("extends: skresnet18\nblock: {paths: 3, split_input: false}\n")
    assert resnet_spec.elaborate(whole).node("layer1.0.conv1.paths.2.conv").dilation == 3


@pytest.mark.parametrize("field", ["paths: 3", "split_input: false", "sk_reduction: 4",
                                   "sk_divisor: 4"])
def test_the_fields_belong_to_the_selective_kinds(tmp_path: Path, field: str) -> None:
    spec = tmp_path / "plain.yaml"
    spec.write_text(f"extends: resnet18\nblock: {{{field}}}\n")
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(spec)
    name = field.split(":")[0]
    assert f"`{name}` applies only to the block kinds `sk_basic` and `sk_bottleneck`" in str(
        caught.value)
