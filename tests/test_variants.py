"""The family's variants in the IR, without torch: deep stem, avg-down shortcuts, squeeze-and-
excitation, pre-activation blocks, stochastic depth, dilation and `output_stride`, and the
backbone's `features`; and how summaries and diagrams show them."""

from __future__ import annotations

from pathlib import Path

import pytest

import resnet_spec
from resnet_spec.elaboration.attention import squeeze_channels as reduced_channels
from resnet_spec.ir.cost import analyze, to_json, to_markdown
from resnet_spec.render import to_dot


def spec_file(tmp_path: Path, text: str, name: str = "t") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\n{text}")
    return path


def test_deep_stem_has_timms_names_and_widths() -> None:
    g = resnet_spec.elaborate("resnet50c")
    stem = g.stage("stem")
    assert [n for n in stem.nodes if g.node(n).params()] == [
        "conv1.0", "conv1.1", "conv1.3", "conv1.4", "conv1.6", "bn1"]
    assert [g.node(n).out_channels for n in ("conv1.0", "conv1.3", "conv1.6")] == [32, 32, 64]
    assert (g.node("conv1.0").stride, g.node("conv1.0").kernel) == (2, 3)
    assert (stem.stride, stem.width, stem.out_shape) == (4, 64, (64, 56, 56))


def test_deep_stem_widths_are_settable(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "extends: resnet50c\nstem: {widths: [24, 48, 96]}\n")
    g = resnet_spec.elaborate(path)
    assert [g.node(n).out_channels for n in ("conv1.0", "conv1.3", "conv1.6")] == [24, 48, 96]
    assert g.node("layer1.0.conv1").in_channels == 96 and g.stage("stem").width == 96


def test_avg_down_pools_where_the_stride_is_and_nowhere_else() -> None:
    g = resnet_spec.elaborate("resnet50d")
    pool = g.node("layer2.0.downsample.0")
    assert (pool.op, pool.kind, pool.kernel, pool.stride) == ("pool", "avg", 2, 2)
    assert pool.ceil_mode and not pool.count_include_pad
    assert g.node("layer2.0.downsample.1").stride == 1
    assert g.node("layer2.0.downsample.2").op == "norm"
    # layer1.0 changes channels at stride 1: no pool, the conv and norm keep timm's indices
    assert "layer1.0.downsample.0" not in g.nx and g.node("layer1.0.downsample.1").kernel == 1
    assert [b.shortcut for b in g.blocks if b.index == 0] == ["avg_down"] * 4
    assert {b.shortcut for b in g.blocks if b.index > 0} == {"identity"}


def test_avg_down_on_odd_maps_uses_ceil_mode(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "extends: resnet50d\ninput: {height: 100, width: 100}\n")
    g = resnet_spec.elaborate(path)
    # 25 -> 13 on both paths: the 3x3's padding and the pool's ceil mode agree
    assert g.node("layer2.0.downsample.0").shape == (256, 13, 13)
    assert g.node("layer2.0.conv2").shape == (128, 13, 13)
    assert g.node("layer2.0.add").shape == (512, 13, 13)


@pytest.mark.parametrize(("channels", "reduction", "expected"), [
    (256, 16, 16), (2048, 16, 128), (64, 16, 8), (64, 64, 8), (100, 3, 32), (96, 8, 16)])
def test_se_channels_round_as_timm(channels: int, reduction: int, expected: int) -> None:
    # timm's make_divisible(channels / reduction, 8, round_limit=0)
    v = channels / reduction
    assert reduced_channels(channels, reduction) == expected == max(8, int(v + 4) // 8 * 8)


def test_se_sits_after_the_last_norm_before_the_addition() -> None:
    g = resnet_spec.elaborate("seresnet50")
    block = g.block("layer3.0")
    names = [n.rsplit(".", 2)[-2] + "." + n.rsplit(".", 1)[-1] if ".se." in n else
             n.rsplit(".", 1)[-1] for n in block.nodes]
    assert names[names.index("bn3") + 1: names.index("bn3") + 6] == [
        "se.pool", "se.fc1", "se.act", "se.fc2", "se.gate"]
    assert g.node("layer3.0.add").inputs == ("layer3.0.se.gate", "layer3.0.downsample.1")
    fc1 = g.node("layer3.0.se.fc1")
    assert (fc1.in_channels, fc1.out_channels, fc1.bias) == (1024, 64, True)
    assert g.node("layer3.0.se.pool").shape == (1024, 1, 1)
    assert block.se == 64 and g.block("layer1.0").se == 16


def test_preact_blocks_follow_he_2016() -> None:
    g = resnet_spec.elaborate("resnetv2_50")
    assert "bn1" not in g.nx and g.stage("stem").nodes == ["conv1", "stem.pool"]
    b = g.block("layer2.0")
    ops = [g.node(n).op for n in b.nodes if g.node(n).scope.branch == "main"]
    assert ops[:3] == ["norm", "act", "conv"] and ops[-2:] == ["conv", "add"]
    short = g.node("layer2.0.downsample.0")
    assert short.inputs == ("layer2.0.act1",) and short.stride == 2  # the pre-activated input
    assert "layer2.0.downsample.1" not in g.nx  # a bare conv
    assert g.node("layer2.1.add").inputs[1] == "layer2.0.add"  # identity: the raw sum
    final = g.stage("final")
    assert [g.node(n).op for n in final.nodes] == ["norm", "act"]
    assert g.node("head.pool").inputs == ("final.act",)


def test_preact_basic_and_its_zero_init(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "stem: {width: 16}\n"
                     "block: {kind: preact_basic, zero_init_last_norm: true}\n"
                     "stages:\n  - {depth: 2, width: 16}\n  - {depth: 1, width: 32, stride: 2}\n")
    g = resnet_spec.elaborate(path)
    assert g.node("layer2.0.conv1").stride == 2 and g.node("layer2.0.bn2").zero_init
    assert not g.node("layer2.0.bn1").zero_init
    assert g.node("layer1.0.add").inputs == ("layer1.0.conv2", "stem.pool")


def test_drop_path_rises_linearly_over_the_network(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "extends: resnet50\nblock: {drop_path: 0.15}\n")
    g = resnet_spec.elaborate(path)
    rates = [b.drop_path for b in g.blocks]
    assert rates == pytest.approx([0.15 * i / 15 for i in range(16)])
    assert "layer1.0.drop_path" not in g.nx  # rate 0: no node, as timm
    node = g.node("layer4.2.drop_path")
    assert node.p == pytest.approx(0.15)
    assert g.node("layer4.2.add").inputs[0] == "layer4.2.drop_path"


def test_a_stage_drop_path_scales_its_own_blocks(tmp_path: Path) -> None:
    stages = ("stages:\n  - {depth: 2, width: 8}\n  - {depth: 2, width: 16, stride: 2, "
              "block: {drop_path: 0}}\n  - {depth: 2, width: 32, stride: 2, block: "
              "{drop_path: 0.5}}\n")
    g = resnet_spec.elaborate(spec_file(tmp_path, "block: {drop_path: 0.25}\n" + stages))
    assert [b.drop_path for b in g.blocks] == pytest.approx([0, 0.05, 0, 0, 0.4, 0.5])


def test_dilation_keeps_the_previous_dilation_in_the_first_block(tmp_path: Path) -> None:
    text = ("extends: resnet50\nstages:\n  - {depth: 3, width: 64}\n"
            "  - {depth: 4, width: 128, stride: 2}\n  - {depth: 6, width: 256, dilation: 2}\n"
            "  - {depth: 3, width: 512, dilation: 4}\n")
    explicit = resnet_spec.elaborate(spec_file(tmp_path, text, "explicit"))
    assert [explicit.node(f"layer{s}.{b}.conv2").dilation for s, b in
            ((3, 0), (3, 1), (4, 0), (4, 1))] == [1, 2, 2, 4]
    assert explicit.node("layer4.1.conv2").padding == 4
    auto = resnet_spec.elaborate("resnet50_os8")  # output_stride: 8 sets the same
    convs = [n for n in explicit.nodes() if n.op == "conv"]
    assert [(n.stride, n.dilation, n.padding, n.shape) for n in convs] == [
        (a.stride, a.dilation, a.padding, a.shape) for a in map(auto.node, (n.name for n in convs))]
    assert [(s.stride, s.dilation) for s in auto.stages[1:]] == [(1, 1), (2, 1), (1, 2), (1, 4)]


def test_dilated_basic_blocks_dilate_both_convs(tmp_path: Path) -> None:
    g = resnet_spec.elaborate(spec_file(tmp_path, "extends: resnet18\noutput_stride: 16\n"))
    assert [g.node(f"layer4.{b}.conv{c}").dilation for b in (0, 1) for c in (1, 2)] == [
        1, 2, 2, 2]
    assert g.stages[-2].out_shape == (512, 14, 14)


def test_features_return_the_named_maps_in_network_order(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "extends: resnet18\nhead: none\nfeatures: [4, 0, 2]\n")
    g = resnet_spec.elaborate(path)
    assert g.output_dict
    assert g.outputs == {"stem": "stem.act", "stage2": "layer2.1.act2",
                         "stage4": "layer4.1.act2"}
    plain = resnet_spec.elaborate(spec_file(tmp_path, "extends: resnet18\nhead: none\n", "p"))
    assert plain.outputs == {"features": "layer4.1.act2"} and not plain.output_dict


def test_summary_and_diagrams_show_each_output_with_its_stride() -> None:
    g = resnet_spec.elaborate("resnet50_os8")
    cost = analyze(g)
    assert [(o.name, o.shape, o.stride) for o in cost.outputs] == [
        ("stage1", (256, 56, 56), 4), ("stage2", (512, 28, 28), 8),
        ("stage3", (1024, 28, 28), 8), ("stage4", (2048, 28, 28), 8)]
    assert "- outputs: stage1 256×56×56 (stride 4), stage2 512×28×28 (stride 8)" in (
        to_markdown(cost))
    assert to_json(cost)["outputs"][3] == {"name": "stage4", "node": "layer4.2.act3",
                                           "shape": [2048, 28, 28], "stride": 8}
    for level in ("stages", "blocks", "layers"):
        dot = to_dot(g, level=level)
        assert dot.count("<br/>stride 8>") == 3 and "<br/>stride 4>" in dot, level
    stages = to_dot(g, level="stages")
    assert "layer3 -> output_stage3" in stages and "dilation 2" in stages
    assert "outputs:" not in to_markdown(analyze(resnet_spec.elaborate("resnet18")))


def test_variant_diagrams_name_what_is_new() -> None:
    blocks = to_dot(resnet_spec.elaborate("seresnet50"), level="blocks")
    assert "bottleneck · SE 16" in blocks
    layers = to_dot(resnet_spec.elaborate("resnet50d"), level="layers")
    assert "avgpool 2×2 /2 ceil" in layers and "avg-down" in layers
    v2 = to_dot(resnet_spec.elaborate("resnetv2_50"), level="stages")
    assert "<b>final</b><br/>batchnorm<br/>relu" in v2


@pytest.mark.parametrize("name", ["resnet50d", "seresnext50_32x4d", "resnetv2_50",
                                  "resnet50_os8"])
def test_resolved_variant_specs_revalidate_to_the_same_graph(name: str, tmp_path: Path) -> None:
    from resnet_spec.spec.resolved import resolved_yaml

    path = tmp_path / "resolved.yaml"
    path.write_text(resolved_yaml(resnet_spec.load(name)))
    again, first = resnet_spec.elaborate(path).to_json(), resnet_spec.elaborate(name).to_json()
    for graph in (again, first):
        for node in graph["nodes"]:
            node.pop("loc")
        for info in graph["stages"] + graph["blocks"]:
            info.pop("loc")
    assert again == first


def test_the_example_specs_of_the_docs_validate() -> None:
    from conftest import REPO

    examples = REPO / "docs" / "diagrams"
    drop = resnet_spec.elaborate(examples / "resnet50_drop_path.yaml")
    assert drop.blocks[-1].drop_path == pytest.approx(0.05)
    features = resnet_spec.elaborate(examples / "resnet18_features.yaml")
    assert list(features.outputs) == ["stem", "stage1", "stage2", "stage3", "stage4"]
    assert features.node("stem.act").shape == (64, 112, 112)
