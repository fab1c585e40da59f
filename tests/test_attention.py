"""The attention slot (`block.attention`): ECA against timm's module, SE placed in the middle and
sized from the block's input (RegNetY's form), the rules between its fields, and an attention
kind from an installed package. ecaresnet50d's parity with timm is in test_variants_parity."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from plugin_site import installed, write_dist

import resnet_spec
from resnet_spec.elaboration.attention import eca_kernel, squeeze_channels
from resnet_spec.errors import SpecError

SMALL = {"name": "small", "input": {"height": 32, "width": 32}, "head": {"classes": 10},
         "stem": {"width": 16, "kernel": 3, "stride": 1, "pool": "none"},
         "stages": [{"depth": 1, "width": 16}, {"depth": 1, "width": 32, "stride": 2}]}


@pytest.mark.parametrize("channels", [16, 64, 100, 256, 512, 1024, 2048, 4096])
def test_eca_kernel_is_timms(channels: int) -> None:
    timm = pytest.importorskip("timm")
    module = timm.layers.EcaModule(channels=channels)
    assert eca_kernel(channels) == module.conv.kernel_size[0]


def test_eca_sits_after_the_last_norm_and_matches_timms_module() -> None:
    timm = pytest.importorskip("timm")
    graph = resnet_spec.elaborate({**SMALL, "block": {"kind": "bottleneck",
                                                      "attention": {"kind": "eca"}}})
    conv = graph.node("layer1.0.se.conv")
    assert conv.kernel == eca_kernel(64) and conv.params() == {
        "layer1.0.se.conv.weight": (1, 1, conv.kernel)}
    assert graph.node("layer1.0.se.pool").inputs == ("layer1.0.bn3",)
    assert graph.blocks[0].attention == f"ECA k{conv.kernel}"
    model = resnet_spec.build(graph).eval()
    theirs = timm.layers.EcaModule(channels=64)
    theirs.conv.weight.data.copy_(model.layer1[0].se.conv.weight)
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model.layer1[0].se(x), theirs(x))


def test_se_in_the_middle_is_sized_from_the_blocks_input() -> None:
    attention = {"kind": "se", "at": "middle", "reduction": 4, "of": "input", "divisor": 1}
    graph = resnet_spec.elaborate({**SMALL, "block": {"kind": "bottleneck", "expansion": 1,
                                                      "attention": attention}})
    # layer2.0: input 16 channels, inner 32: the squeeze has round(16 / 4) = 4 channels and
    # gates the 3x3 conv's 32 channels before the last 1x1 conv
    assert graph.node("layer2.0.se.fc1").out_channels == 4
    assert graph.node("layer2.0.se.fc2").out_channels == 32
    assert graph.node("layer2.0.se.pool").inputs == ("layer2.0.act2",)
    assert graph.node("layer2.0.conv3").inputs == ("layer2.0.se.gate",)
    assert graph.blocks[1].se == 4 and graph.blocks[1].attention == "SE 4"


def test_block_se_and_attention_se_build_the_same() -> None:
    short = resnet_spec.elaborate({**SMALL, "block": {"kind": "bottleneck",
                                                      "se": {"reduction": 4}}})
    long = resnet_spec.elaborate({**SMALL, "block": {"kind": "bottleneck", "attention": {
        "kind": "se", "reduction": 4}}})
    assert short.state_shapes() == long.state_shapes()
    assert squeeze_channels(256, 16) == 16 and squeeze_channels(40, 16, 1) == 3


@pytest.mark.parametrize(("block", "message"), [
    ({"attention": {"kind": "cbam"}}, "block.attention.kind: expected `eca` or `se`, got `cbam`"),
    ({"attention": {"kind": "eca", "reduction": 4}},
     "block.attention.reduction: `reduction` applies to the attention kind `se`, not `eca`"),
    ({"attention": {"kind": "eca", "kernel": 4}}, "kernel must be odd, got 4"),
    ({"se": {"reduction": 4}, "attention": {"kind": "eca"}},
     "block.attention: a block has `se` or `attention`, not both"),
    ({"kind": "preact_basic", "attention": {"kind": "se", "at": "middle"}},
     "the block kind `preact_basic` has no middle place for attention"),
])
def test_bad_attention_is_an_error_at_its_line(tmp_path: Path, block: dict, message: str
                                               ) -> None:
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate({**SMALL, "block": {"kind": "basic", **block}})
    assert message in str(caught.value)


PLUGIN = '''\
from resnet_spec.elaboration.attention import Attended, AttentionKind
from resnet_spec.ir import GateNode, SqueezeNode


def _gate(ctx, b, x, spec, width):
    s = ctx.add(SqueezeNode, "se.pool", [x])
    s = ctx.conv(s, "se.fc", x.shape[0], kernel=1, bias=True)
    return Attended(ctx.add(GateNode, "se.gate", [x, s]), "gate")


KIND = AttentionKind("full_gate", _gate, "one 1x1 conv from the squeeze to the gate")
'''


def test_an_installed_packages_attention_kind(tmp_path: Path) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from resnet_spec.ir.cost import analyze

    site = write_dist(tmp_path / "site", "gateplug", "1.0",
                      {"resnet_spec.attention": {"full_gate": "gateplug:KIND"}},
                      {"gateplug.py": PLUGIN})
    spec = {**SMALL, "block": {"kind": "basic", "attention": {"kind": "full_gate"}}}
    with installed(site):
        graph = resnet_spec.elaborate(spec)
        assert graph.node("layer1.0.se.fc").out_channels == 16
        model = resnet_spec.build(graph).eval()
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(torch.zeros(1, 3, 32, 32))
        assert counter.get_total_flops() == 2 * analyze(graph).macs
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(spec)
    assert "got `full_gate`" in str(caught.value)
