"""The compiled module is a drop-in for torchvision's: the same tree of children, blocks that run
their own forward (so hooks fire and indexing works), replaceable children, and torchvision's
detection wrappers, which call the top-level children one after another."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import resnet_spec
from resnet_spec.compiler.lower import PartModule, lower
from resnet_spec.compiler.tree import Part, plan
from resnet_spec.errors import Loc
from resnet_spec.ir import ActNode, ConvNode, Graph, InputNode, Scope

torchvision = pytest.importorskip("torchvision")
backbone_utils = pytest.importorskip("torchvision.models.detection.backbone_utils")
_utils = pytest.importorskip("torchvision.models._utils")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def same_weights(name: str) -> tuple[nn.Module, nn.Module]:
    """torchvision's model and ours with its weights (norm statistics made non-trivial)."""
    torch.manual_seed(0)
    theirs = torchvision.models.get_model(name).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in theirs.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
    ours = resnet_spec.build(name, device="meta")
    ours.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    return theirs, ours.eval()


def image(batch: int = 2, size: int = 64) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2"])
def test_the_children_are_torchvisions(name: str) -> None:
    with torch.device("meta"):
        theirs = torchvision.models.get_model(name)
    ours = resnet_spec.build(name, device="meta")
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        assert isinstance(getattr(ours, stage), nn.Sequential)
        assert len(getattr(ours, stage)) == len(getattr(theirs, stage))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    kinds = {type(getattr(ours, n)).__name__ for n in ("relu", "maxpool", "avgpool", "fc")}
    assert kinds == {"ReLU", "MaxPool2d", "AdaptiveAvgPool2d", "Linear"}


def test_a_hook_on_the_last_block_fires_with_torchvisions_activation() -> None:
    theirs, ours = same_weights("resnet50")
    seen: dict[str, torch.Tensor] = {}
    ours.layer4[-1].register_forward_hook(lambda m, i, o: seen.__setitem__("ours", o))
    theirs.layer4[-1].register_forward_hook(lambda m, i, o: seen.__setitem__("theirs", o))
    x = image()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-5)
    assert seen["ours"].shape == (2, 2048, 2, 2)
    torch.testing.assert_close(seen["ours"], seen["theirs"], rtol=1e-4, atol=1e-5)


def test_grad_cam_reads_activations_and_gradients_of_a_block() -> None:
    """What pytorch-grad-cam does: a forward hook and a backward hook on `layer4[-1]`."""
    model = resnet_spec.build("resnet18").eval()
    kept: dict[str, torch.Tensor] = {}
    block = model.layer4[-1]
    block.register_forward_hook(lambda m, i, o: kept.__setitem__("act", o.detach()))
    block.register_full_backward_hook(lambda m, gi, go: kept.__setitem__("grad", go[0]))
    logits = model(image(1))
    logits[0, logits.argmax()].backward()
    assert kept["act"].shape == kept["grad"].shape == (1, 512, 2, 2)
    assert kept["grad"].abs().sum() > 0


def test_a_new_classifier_replaces_fc() -> None:
    model = resnet_spec.build("resnet50")
    model.fc = nn.Linear(2048, 10)
    assert model(image()).shape == (2, 10)


def test_freezing_a_stage_freezes_exactly_its_parameters() -> None:
    model = resnet_spec.build("resnet18")
    for p in model.layer1.parameters():
        p.requires_grad_(False)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith("layer1.") for n in frozen)
    assert frozen == {n for n, _ in model.named_parameters() if n.startswith("layer1.")}


def test_intermediate_layer_getter_gives_torchvisions_maps() -> None:
    theirs, ours = same_weights("resnet50")
    layers = {"layer2": "c3", "layer4": "c5"}
    ours_maps = _utils.IntermediateLayerGetter(ours, layers)(image())
    theirs_maps = _utils.IntermediateLayerGetter(theirs, layers)(image())
    assert list(ours_maps) == ["c3", "c5"]
    for key in layers.values():
        torch.testing.assert_close(ours_maps[key], theirs_maps[key], rtol=1e-4, atol=1e-5)


def test_backbone_with_fpn_takes_the_compiled_model() -> None:
    theirs, ours = same_weights("resnet18")
    layers = {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"}
    ours_fpn = backbone_utils.BackboneWithFPN(ours, layers, [64, 128, 256, 512], 32).eval()
    theirs_fpn = backbone_utils.BackboneWithFPN(theirs, layers, [64, 128, 256, 512], 32).eval()
    theirs_fpn.fpn.load_state_dict(ours_fpn.fpn.state_dict())
    with torch.no_grad():
        ours_out, theirs_out = ours_fpn(image()), theirs_fpn(image())
    assert list(ours_out) == list(theirs_out) == ["0", "1", "2", "3", "pool"]
    for key in ours_out:
        torch.testing.assert_close(ours_out[key], theirs_out[key], rtol=1e-4, atol=1e-5)


def test_print_reads_like_torchvision() -> None:
    text = str(resnet_spec.build("resnet50", device="meta"))
    assert text.startswith("resnet50(\n  (conv1): Conv2d(3, 64")
    for line in ("  (relu): ReLU(inplace=True)", "  (maxpool): MaxPool2d(",
                 "  (layer1): Sequential(", "    (0): Bottleneck(",
                 "      (downsample): Sequential(", "  (avgpool): AdaptiveAvgPool2d(",
                 "  (fc): Linear(in_features=2048"):
        assert f"\n{line}" in text
    assert "def forward" not in text


def test_a_blocks_code_reads_in_its_own_names() -> None:
    block = resnet_spec.build("resnet50", device="meta").layer2[0]
    assert isinstance(block, PartModule) and type(block).__name__ == "Bottleneck"
    code = block.code
    assert "self.conv1(x)" in code and "self.downsample(x)" in code
    assert "layer2" not in code
    assert type(resnet_spec.build("resnet18", device="meta").layer1[0]).__name__ == "BasicBlock"


def test_deep_stem_and_avg_down_are_sequentials_as_in_timm() -> None:
    model = resnet_spec.build("resnet50d", device="meta")
    assert isinstance(model.conv1, nn.Sequential) and len(model.conv1) == 7
    down = model.layer2[0].downsample
    assert isinstance(down, nn.Sequential)
    assert [type(m).__name__ for m in down] == ["AvgPool2d", "Conv2d", "BatchNorm2d"]


def test_squeeze_excitation_is_its_own_module() -> None:
    model = resnet_spec.build("seresnet50").eval()
    se = model.layer3[2].se
    assert type(se).__name__ == "SqueezeExcite"
    calls: list[tuple[int, ...]] = []
    se.register_forward_hook(lambda m, i, o: calls.append(tuple(o.shape)))
    model(image(1))
    assert calls == [(1, 1024, 4, 4)]


def test_deepcopy_keeps_the_names_and_the_outputs() -> None:
    model = resnet_spec.build("resnet18").eval()
    twin = copy.deepcopy(model)
    assert type(twin).__name__ == "resnet18" and type(twin.layer1[0]).__name__ == "BasicBlock"
    with torch.no_grad():
        torch.testing.assert_close(twin(image()), model(image()))


def test_backbone_outputs_come_from_the_stages() -> None:
    model = resnet_spec.build("resnet50_os8").eval()
    maps = model(image(1))
    assert list(maps) == ["stage1", "stage2", "stage3", "stage4"]
    assert not hasattr(model, "fc")
    assert maps["stage4"].shape == (1, 2048, 8, 8)


def tiny_graph(second_output: bool) -> Graph:
    """x -> a.conv -> a.act, with `a.conv` also read as an output when asked."""
    graph = Graph("tiny")
    root, part = Scope(stage="stem"), Scope(stage="layer1")
    loc = Loc("tiny.yaml", 1, 1)
    graph.add(InputNode(name="input", shape=(3, 8, 8), scope=root, loc=loc))
    graph.add(ConvNode(name="a.conv", inputs=("input",), shape=(4, 8, 8), scope=part, loc=loc,
                       in_channels=3, out_channels=4, kernel=3, stride=1, padding=1))
    graph.add(ActNode(name="a.act", inputs=("a.conv",), shape=(4, 8, 8), scope=part, loc=loc,
                      kind="relu"))
    graph.outputs = {"out": "a.act"}
    if second_output:
        graph.outputs["conv"] = "a.conv"
        graph.output_dict = True
    return graph


def test_a_prefix_read_from_outside_twice_stays_inline() -> None:
    assert isinstance(plan(tiny_graph(False)).items[1], Part)
    inline = plan(tiny_graph(True))
    assert [getattr(item, "name", None) for item in inline.items] == ["input", "a.conv", "a.act"]
    model = lower(tiny_graph(True), device="cpu")
    assert list(model.state_dict()) == ["a.conv.weight"]
    out = model(torch.zeros(1, 3, 8, 8))
    assert set(out) == {"out", "conv"}


def test_activations_are_in_place_only_where_nothing_else_reads_their_input() -> None:
    """torchvision's ReLUs are in place; a pre-activation block's first ReLU reads a norm of
    the block's input, which the shortcut also reads, so only the norm's output is overwritten,
    and a backbone's returned maps are never overwritten by the next stage."""
    model = resnet_spec.build("resnetv2_50").eval()
    assert all(m.inplace for m in model.modules() if isinstance(m, nn.ReLU))
    kept: dict[str, torch.Tensor] = {}
    block = model.layer2[1]
    block.register_forward_pre_hook(lambda m, args: kept.__setitem__("in", args[0].clone()))
    block.register_forward_hook(lambda m, args, out: kept.__setitem__("seen", args[0]))
    with torch.no_grad():
        model(image(1))
    torch.testing.assert_close(kept["seen"], kept["in"], rtol=0, atol=0)
    backbone = resnet_spec.build("resnet50_os8").eval()
    with torch.no_grad():
        maps = backbone(image(1))
    assert (maps["stage1"] >= 0).all()  # the last ReLU's output, unchanged by stage 2
    with torch.no_grad():
        again = backbone.layer1(backbone.maxpool(backbone.relu(backbone.bn1(
            backbone.conv1(image(1))))))
    torch.testing.assert_close(maps["stage1"], again)
