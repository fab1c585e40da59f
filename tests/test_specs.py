"""Every built-in spec loads, elaborates and checks, with the published shapes and sizes.

Parameter counts: torchvision's weight metadata (exact) and the paper's Table 6 for the CIFAR
nets (to the published rounding), as listed with their sources in `published_figures.py`.
"""

from __future__ import annotations

import published_figures
import pytest
from conftest import SPECS

import resnet_spec
from resnet_spec.ir.check import check_graph
from resnet_spec.spec import builtins

# torchvision's `num_params` for the v1.5 models; the paper's v1 layout has the same weights.
TORCHVISION = {name: params for name, (params, _) in published_figures.TORCHVISION.items()}
TORCHVISION |= {f"resnet{depth}_v1": TORCHVISION[f"resnet{depth}"] for depth in (50, 101, 152)}

# timm's parameter counts of the variants it defines (the parity tests compare live models too)
TIMM = {
    "resnet50c": 25_576_264,
    "resnet50d": 25_576_264,
    "resnet101d": 44_568_392,
    "seresnet50": 28_088_024,
    "seresnext50_32x4d": 27_559_896,
    "resnetv2_50": 25_549_352,
    "resnet50t": 25_573_728,
    "resnetrs50": 35_691_912,
    "resnetblur50": 25_557_032,
    "resnetaa50d": 25_576_264,
    "ecaresnet50d": 25_576_350,
    "regnetx_002": 2_684_792,
    "regnety_016": 11_202_430,
    "res2net50_26w_4s": 25_699_120,
    "resnest50d": 27_483_240,
    "skresnet18": 11_958_056,
    "skresnext50_32x4d": 27_479_784,
}
# torchvision's RegNets: its weights' `num_params` (test_regnet compares the live models too)
TORCHVISION_REGNETS = {"regnet_y_400mf": 4_344_144}
BACKBONES = {"resnet50_os8"}

# Table 6: (n, params as printed). Plain nets have the same weights (option A adds none).
TABLE6 = dict(published_figures.PAPER_TABLE6)
TABLE6 |= {name.replace("resnet", "plain"): TABLE6[name]
           for name in ("cifar_resnet20", "cifar_resnet56")}
PREACT = published_figures.IDENTITY_MAPPINGS_TABLE3
WIDE = published_figures.WIDE_RESNETS

# Blocks per stage of the ImageNet depths.
DEPTHS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3],
          152: [3, 8, 36, 3]}

ALL = builtins.names()


def test_every_spec_file_is_a_builtin() -> None:
    assert sorted(p.stem for p in SPECS.glob("*.yaml")) == ALL
    assert set(TORCHVISION) | set(TABLE6) | set(TIMM) | set(PREACT) | set(WIDE) | BACKBONES | set(
        TORCHVISION_REGNETS) | {"plain18", "plain34"} == set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_builtin_elaborates_and_checks_clean(name: str) -> None:
    spec = resnet_spec.load(name)
    assert spec.name == name
    graph = resnet_spec.elaborate(spec)
    assert check_graph(graph) == []
    assert graph.warnings == []
    if name in BACKBONES:
        assert graph.output_dict and set(graph.outputs) == {"stage1", "stage2", "stage3",
                                                            "stage4"}
        return
    classes = 10 if name.startswith("cifar_") or name in WIDE else 1000
    assert graph.node(graph.outputs["logits"]).shape == (classes,)


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_imagenet_params_equal_torchvision(name: str) -> None:
    graph = resnet_spec.elaborate(name)
    assert graph.param_count() == TORCHVISION[name]
    channels = 512 if name in ("resnet18", "resnet34") else 2048
    assert graph.stages[-2].out_shape == (channels, 7, 7)


@pytest.mark.parametrize("name", sorted(TIMM))
def test_variant_params_equal_timm(name: str) -> None:
    assert resnet_spec.elaborate(name).param_count() == TIMM[name]


def test_torchvision_regnet_params() -> None:
    models = pytest.importorskip("torchvision.models")
    for name, params in TORCHVISION_REGNETS.items():
        assert models.get_model_weights(name).DEFAULT.meta["num_params"] == params
        assert resnet_spec.elaborate(name).param_count() == params


def test_preact_resnet164_matches_he_2016() -> None:
    n, printed = PREACT["cifar_preact_resnet164"]
    graph = resnet_spec.elaborate("cifar_preact_resnet164")
    assert len(graph.blocks) == 3 * n and f"{graph.param_count() / 1e6:.1f}M" == printed
    assert [(s.name, s.out_shape) for s in graph.stages[1:5]] == [
        ("layer1", (64, 32, 32)), ("layer2", (128, 16, 16)), ("layer3", (256, 8, 8)),
        ("final", (256, 8, 8))]


def test_wrn28_10_matches_zagoruyko_2016() -> None:
    exact, printed = WIDE["wrn28_10"]
    graph = resnet_spec.elaborate("wrn28_10")
    assert graph.param_count() == exact and f"{exact / 1e6:.1f}M" == printed
    assert len(graph.blocks) == 12 and {b.width for b in graph.blocks} == {160, 320, 640}
    dropouts = [n for n in graph.nodes() if n.op == "dropout" and n.name != "head.dropout"]
    assert [n.name for n in dropouts[:2]] == ["layer1.0.dropout", "layer1.1.dropout"]
    assert len(dropouts) == 12 and {n.p for n in dropouts} == {0.3}


@pytest.mark.parametrize("name", sorted(TABLE6))
def test_cifar_params_match_table_6(name: str) -> None:
    n, printed = TABLE6[name]
    graph = resnet_spec.elaborate(name)
    assert len(graph.blocks) == 3 * n
    decimals = len(printed.removesuffix("M").split(".")[1])
    assert f"{graph.param_count() / 1e6:.{decimals}f}M" == printed
    assert [s.out_shape for s in graph.stages[1:4]] == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]


@pytest.mark.parametrize("depth", sorted(DEPTHS))
def test_imagenet_depths(depth: int) -> None:
    graph = resnet_spec.elaborate(f"resnet{depth}")
    assert [s.depth for s in graph.stages if s.kind == "stage"] == DEPTHS[depth]
    shapes = [s.out_shape[1:] for s in graph.stages if s.kind != "head"]
    assert shapes == [(56, 56), (56, 56), (28, 28), (14, 14), (7, 7)]


def test_plain_nets_have_no_additions() -> None:
    for name in ("plain18", "plain34", "cifar_plain20", "cifar_plain56"):
        graph = resnet_spec.elaborate(name)
        assert not [n for n in graph.nodes() if n.op == "add"]
        assert {b.shortcut for b in graph.blocks} == {"none"}


def test_plain_imagenet_nets_lack_only_the_projections() -> None:
    """plain-18 = ResNet-18 minus its three 1x1 projection shortcuts (conv + norm)."""
    projections = sum(c * d + 2 * d for c, d in ((64, 128), (128, 256), (256, 512)))
    assert (resnet_spec.elaborate("resnet18").param_count()
            - resnet_spec.elaborate("plain18").param_count()) == projections


def test_v1_moves_the_stride_to_the_first_conv() -> None:
    v15 = resnet_spec.elaborate("resnet50").node("layer2.0.conv2")
    v1 = resnet_spec.elaborate("resnet50_v1")
    assert v15.stride == 2
    assert (v1.node("layer2.0.conv1").stride, v1.node("layer2.0.conv2").stride) == (2, 1)


def test_cifar_uses_zero_padding_shortcuts() -> None:
    graph = resnet_spec.elaborate("cifar_resnet20")
    assert [b.shortcut for b in graph.blocks if b.index == 0] == ["identity", "zero_pad",
                                                                   "zero_pad"]


def test_torchvision_state_dict_names() -> None:
    names = resnet_spec.elaborate("resnet50").state_shapes()
    assert names["conv1.weight"] == (64, 3, 7, 7)
    assert names["layer1.0.downsample.0.weight"] == (256, 64, 1, 1)
    assert names["layer4.2.bn3.running_var"] == (2048,)
    assert names["fc.weight"] == (1000, 2048)
