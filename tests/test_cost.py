"""The static cost model against hand counts, published figures, torchvision and torch's own
FLOP counter on the compiled module."""

from __future__ import annotations

import math
import textwrap

import published_figures
import pytest

import resnet_spec
from resnet_spec.ir import OP_CLASSES
from resnet_spec.ir.cost import analyze, to_json, to_markdown
from resnet_spec.spec import builtins
from resnet_spec.spec.schema import InputSpec

# the published figures, with their sources: `published_figures.py`
TORCHVISION = published_figures.TORCHVISION
# the paper's Table 1, "FLOPs" that are multiply-adds, printed with one decimal
PAPER_TABLE1 = published_figures.PAPER_TABLE1_GMACS
# the paper's Table 6, parameters in millions as printed
PAPER_TABLE6 = {name: params.removesuffix("M")
                for name, (_, params) in published_figures.PAPER_TABLE6.items()}

TINY = """\
name: tiny
description: one basic block on an 8x8 image
input: {channels: 3, height: 8, width: 8}
stem: {kind: conv, width: 4, kernel: 3, stride: 1, pool: none}
block: {kind: basic}
shortcut: identity
stages:
  - {depth: 1, width: 4}
head: {classes: 2}
"""


@pytest.fixture(scope="module")
def costs() -> dict:
    return {name: analyze(resnet_spec.elaborate(name)) for name in builtins.names()}


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return analyze(resnet_spec.elaborate(str(path)))


def test_tiny_network_matches_a_hand_count(tiny) -> None:
    # conv1 3->4 3x3 on 8x8, bn1, block conv 4->4 twice with bn, fc 4->2 with bias
    assert tiny.params == 108 + 8 + (144 + 8) * 2 + 10
    assert tiny.macs == 64 * 4 * 3 * 9 + 2 * (64 * 4 * 4 * 9) + 4 * 2
    # 10 maps of 4x8x8 (stem: conv, bn, act; block: conv, bn, act, conv, bn, add, act), the
    # pooled vector and the logits; the input image is not an activation
    assert tiny.activations == 10 * 256 + 4 + 2
    assert [(s.name, s.receptive_field, s.stride) for s in tiny.stages] == [
        ("stem", 3, 1), ("layer1", 7, 1), ("head", 7, 1)]
    assert tiny.nodes["input"].activations == 0


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_parameters_exact_and_gmacs(costs, name: str) -> None:
    params, gmacs = TORCHVISION[name]
    assert costs[name].params == params
    assert costs[name].macs / 1e9 == pytest.approx(gmacs, rel=0.005)
    assert round(costs[name].macs / 1e9, 3) == gmacs


@pytest.mark.parametrize("name", sorted(PAPER_TABLE1))
def test_paper_table1_macs(costs, name: str) -> None:
    # the paper prints one decimal and does not always round (ResNet-34 is 3.66e9): one unit
    assert abs(costs[name].macs / 1e9 - PAPER_TABLE1[name]) < 0.1


def test_paper_figure_is_v1_not_v15(costs) -> None:
    # the 3.8e9 of Table 1 needs the stride on the first 1x1; torchvision's layout costs more
    assert abs(costs["resnet50"].macs / 1e9 - 3.8) > 0.25


@pytest.mark.parametrize("name", sorted(PAPER_TABLE6))
def test_paper_table6_parameters(costs, name: str) -> None:
    printed = PAPER_TABLE6[name]
    decimals = len(printed.split(".")[1])
    assert round(costs[name].params / 1e6, decimals) == float(printed)


@pytest.mark.parametrize("name", builtins.names())
def test_stages_and_blocks_add_up(costs, name: str) -> None:
    cost = costs[name]
    for key in ("params", "macs", "activations"):
        assert sum(getattr(s, key) for s in cost.stages) == getattr(cost, key)
        for stage in cost.stages:
            if stage.blocks:
                assert sum(getattr(b, key) for b in stage.blocks) == getattr(stage, key)
    # every output is stored but the input's and views' (Res2Net's channel slices)
    assert cost.activations == sum(math.prod(n.output_shape) for n in cost.nodes.values()
                                   if OP_CLASSES[n.op].stores_output)


def test_receptive_fields_and_strides(costs) -> None:
    # 483 is the published receptive field of ResNet-50 v1 (Araujo et al., Distill 2019)
    assert costs["resnet50_v1"].stages[-2].receptive_field == 483
    assert [(s.stride, s.receptive_field) for s in costs["resnet50"].stages] == [
        (4, 11), (4, 35), (8, 91), (16, 267), (32, 427), (32, 427)]
    # CIFAR-20: 3 from the stem, +2 per 3x3 at stride 1, +4 at 2, +8 at 4
    assert [s.receptive_field for s in costs["cifar_resnet20"].stages] == [3, 15, 37, 81, 81]
    assert [s.stride for s in costs["cifar_resnet20"].stages] == [1, 1, 2, 4, 4]


def test_shortcuts_never_widen_the_receptive_field(costs) -> None:
    # an addition takes the larger field, always the branch's: a plain net sees as far
    for plain, residual in (("plain34", "resnet34"), ("cifar_plain56", "cifar_resnet56")):
        assert [s.receptive_field for s in costs[plain].stages] == [
            s.receptive_field for s in costs[residual].stages]


def test_stage_shapes_are_the_graphs() -> None:
    graph = resnet_spec.elaborate("resnext50_32x4d")
    cost = analyze(graph)
    assert [s.output_shape for s in cost.stages] == [tuple(s.out_shape) for s in graph.stages]
    assert cost.stages[-1].output_shape == (1000,)


def test_json_object(costs) -> None:
    data = to_json(costs["resnet50"], batch=4, dtype="float16")
    assert data["name"] == "resnet50"
    assert (data["params"], data["macs"]) == (25_557_032, 4_089_184_256)
    assert isinstance(data["activations"], int)
    assert data["memory"]["activation_bytes"] == data["activations"] * 4 * 2
    stage = data["stages"][4]
    assert stage["name"] == "layer4"
    assert stage["output_shape"] == [2048, 7, 7]
    assert {"params", "macs", "receptive_field", "stride", "blocks"} <= set(stage)
    assert "layers" not in data
    assert len(to_json(costs["resnet50"], layers=True)["layers"]) == len(costs["resnet50"].nodes)


def test_markdown_summary(costs) -> None:
    text = to_markdown(costs["resnet50"], batch=2)
    assert text.startswith("# resnet50\n\nResNet-50 v1.5")
    assert "| layer3 | 6 | 1024×14×14 | 16 | 267 | 7.10M | 1.46G | 7.48M |" in text
    assert "**25.56M** | **4.09G**" in text
    assert "25,557,032" in text
    assert "for a batch of 2 in float32" in text


def test_summaries_never_import_torch(tmp_path) -> None:
    import subprocess
    import sys

    code = textwrap.dedent("""
        import sys
        import resnet_spec
        from resnet_spec.ir.cost import analyze, to_markdown
        to_markdown(analyze(resnet_spec.elaborate("resnet50")))
        from resnet_spec.cli import main
        main(["summary", "resnet18"])
        main(["summary", "resnet18", "--json", "--layers"])
        main(["list"])
        assert "torch" not in sys.modules, "torch was imported"
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


# --- against torch: the compiled module and torchvision --------------------------------------


def _small(name: str):
    """The built-in at 32x32: the costs change, the rules do not, and the counts stay quick."""
    spec = resnet_spec.load(name)
    spec = spec.model_copy(update={"input": InputSpec(channels=3, height=32, width=32)})
    return resnet_spec.elaborate(spec)


def test_the_torchvision_figures_are_its_weights_metadata() -> None:
    models = pytest.importorskip("torchvision.models")
    for name, (params, gmacs) in TORCHVISION.items():
        meta = models.get_model_weights(name).DEFAULT.meta
        assert (meta["num_params"], meta["_ops"]) == (params, gmacs), name


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_counts_equal_torchvision_modules(costs, name: str) -> None:
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("torchvision.models")
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):  # shapes only: no memory, no initialization, full 224x224
        model = getattr(models, name)().eval()
        image = torch.zeros(1, 3, 224, 224)
    assert costs[name].params == sum(p.numel() for p in model.parameters())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(image)
    assert counter.get_total_flops() == 2 * costs[name].macs


def _flops(module, shape: tuple[int, ...], device: str) -> int:
    """What torch's own counter reports for one image through the module (2 x MACs)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(torch.zeros(1, *shape, device=device))
    return counter.get_total_flops()


@pytest.mark.parametrize("name", builtins.names())
def test_counts_equal_the_compiled_module(costs, name: str) -> None:
    graph = resnet_spec.elaborate(name)
    # on the meta device: the spec's own input size at no memory and no initialization cost
    module = resnet_spec.build(graph, device="meta").eval()
    assert costs[name].params == sum(p.numel() for p in module.parameters())
    assert _flops(module, graph.input_shape, "meta") == 2 * costs[name].macs


@pytest.mark.parametrize("name", ["cifar_resnet20", "resnet50_v1", "resnext50_32x4d"])
def test_counts_equal_a_module_run_on_cpu(name: str) -> None:
    graph = _small(name)
    cost = analyze(graph)
    module = resnet_spec.build(graph).eval()
    assert cost.params == sum(p.numel() for p in module.parameters())
    assert _flops(module, graph.input_shape, "cpu") == 2 * cost.macs


def test_backbone_and_dropout_heads(tmp_path) -> None:
    backbone = tmp_path / "backbone.yaml"
    backbone.write_text("extends: resnet18\nname: backbone\nhead: none\n")
    cost = analyze(resnet_spec.elaborate(str(backbone)))
    assert [s.name for s in cost.stages][-1] == "layer4"
    assert cost.params == 11_689_512 - (512 * 1000 + 1000)
    dropout = tmp_path / "dropout.yaml"
    dropout.write_text("extends: cifar_resnet20\nname: dropout\nhead: {dropout: 0.5}\n")
    cost = analyze(resnet_spec.elaborate(str(dropout)))
    assert cost.nodes["head.dropout"].macs == 0
    assert cost.stages[-1].receptive_field == 81


def test_unknown_dtype_is_a_clear_error(costs) -> None:
    with pytest.raises(ValueError, match="float16"):
        to_markdown(costs["resnet18"], dtype="int8")
