"""timm's model API on every compiled network (`compiler/model_api.py`), checked against timm's
own ResNet with the same weights and with timm's helpers that take a model; torchvision's FX
node names (`create_feature_extractor`)."""

from __future__ import annotations

import copy

import pytest
import timm
import torch
import torchvision
from timm.data import create_transform, resolve_data_config
from timm.optim import create_optimizer_v2
from timm.utils import ModelEmaV3
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

import resnet_spec

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"extends": "resnet18", "input": {"height": 64, "width": 64}}


@pytest.fixture(scope="module")
def pair() -> tuple[nn.Module, nn.Module]:
    """Our resnet18 and timm's, holding the same weights, in eval mode."""
    ours = resnet_spec.build(SMALL, seed=3).eval()
    theirs = timm.create_model("resnet18", pretrained=False)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return ours, theirs.eval()


def batch(channels: int = 3, size: int = 64, n: int = 2) -> torch.Tensor:
    return torch.randn(n, channels, size, size, generator=torch.Generator().manual_seed(11))


def test_forward_features_and_head_are_timms(pair: tuple[nn.Module, nn.Module]) -> None:
    ours, theirs = pair
    x = batch()
    with torch.no_grad():
        features = ours.forward_features(x)
        torch.testing.assert_close(features, theirs.forward_features(x))
        torch.testing.assert_close(ours.forward_head(features), ours(x))
        torch.testing.assert_close(ours.forward_head(features, pre_logits=True),
                                   theirs.forward_head(features, pre_logits=True))
    assert (ours.num_features, ours.num_classes) == (theirs.num_features, 1000) == (512, 1000)
    assert ours.get_classifier() is ours.fc


def test_feature_info_has_timms_channels_and_reductions(
        pair: tuple[nn.Module, nn.Module]) -> None:
    ours, theirs = pair
    assert [(i["num_chs"], i["reduction"]) for i in ours.feature_info] == \
        [(i["num_chs"], i["reduction"]) for i in theirs.feature_info]
    assert ours.feature_info.module_name() == ["relu", "layer1", "layer2", "layer3", "layer4"]
    assert ours.feature_info.channels() == [64, 64, 128, 256, 512]


def test_reset_classifier_as_timm(pair: tuple[nn.Module, nn.Module]) -> None:
    ours, theirs = (copy.deepcopy(m) for m in pair)
    ours.reset_classifier(7)
    assert ours(batch()).shape == (2, 7) and ours.num_classes == 7
    assert ours.pretrained_cfg["num_classes"] == 7
    ours.reset_classifier(0)
    theirs.reset_classifier(0)
    with torch.no_grad():
        torch.testing.assert_close(ours(batch()), theirs(batch()))
    with pytest.raises(ValueError, match="pools with 'avg'"):
        ours.reset_classifier(3, global_pool="max")
    assert pair[0].num_classes == 1000  # the copies are separate


def test_pretrained_cfg_feeds_timms_data_config(pair: tuple[nn.Module, nn.Module]) -> None:
    ours = pair[0]
    config = resolve_data_config({}, model=ours)
    assert config["input_size"] == (3, 64, 64)
    assert config["mean"] == pytest.approx((0.485, 0.456, 0.406))
    assert config["std"] == pytest.approx((0.229, 0.224, 0.225))
    assert config["interpolation"] == "bilinear" and config["crop_pct"] == 0.875
    assert create_transform(**config) is not None
    assert ours.default_cfg == ours.pretrained_cfg
    gray = resnet_spec.build({**SMALL, "input": {"channels": 1}}, device="meta")
    assert len(gray.pretrained_cfg["mean"]) == 1


def test_timm_helpers_take_the_model(pair: tuple[nn.Module, nn.Module]) -> None:
    ours = copy.deepcopy(pair[0])
    optimizer = create_optimizer_v2(ours, "sgd", lr=0.1, layer_decay=0.7)
    scales = sorted({group["lr_scale"] for group in optimizer.param_groups})
    assert len(scales) == 10  # stem, 8 blocks, head: timm's groups of its own resnet18
    ema = ModelEmaV3(ours, decay=0.9)
    ema.update(ours)
    assert ema.module.num_features == 512 and ema.module.feature_info.channels()[-1] == 512
    with torch.no_grad():
        torch.testing.assert_close(ema.module(batch()), ours(batch()))


def test_grad_checkpointing_checkpoints_each_block_and_keeps_gradients(
        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"extends": "resnet18", "input": {"height": 32, "width": 32},
            "stages": [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}]}
    plain = resnet_spec.build(spec, seed=5).train()
    saving = copy.deepcopy(plain)
    saving.set_grad_checkpointing()
    assert saving.grad_checkpointing and not plain.grad_checkpointing
    calls: list[object] = []
    import torch.utils.checkpoint as checkpointing

    real = checkpointing.checkpoint
    monkeypatch.setattr(checkpointing, "checkpoint",
                        lambda fn, *a, **k: calls.append(fn) or real(fn, *a, **k))
    x = batch(size=32, n=4)
    for model in (plain, saving):
        model(x).square().mean().backward()
    assert calls == [saving.layer1[0], saving.layer1[1], saving.layer2[0], saving.layer2[1]]
    for (name, mine), theirs in zip(saving.named_parameters(), plain.parameters(),
                                    strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad, msg=name)
    calls.clear()
    with torch.no_grad():
        saving(x)
    saving.eval()(x)
    assert calls == []  # only while training with gradients
    print(saving)  # still prints as torchvision's Sequential stages
    assert "(layer1): Sequential(" in str(saving)


def test_a_backbone_has_out_channels_and_no_head() -> None:
    backbone = resnet_spec.build({**SMALL, "head": "none"})
    assert backbone.out_channels == 512 and backbone.num_classes == 0
    x = batch()
    with torch.no_grad():
        torch.testing.assert_close(backbone.forward_head(backbone.forward_features(x)),
                                   backbone(x))
    with pytest.raises(ValueError, match="backbone"):
        backbone.reset_classifier(5)
    backbone.reset_classifier(0)
    assert not hasattr(resnet_spec.build(SMALL, device="meta"), "out_channels")


def test_a_preactivation_network_ends_its_features_with_the_final_norm() -> None:
    ours = resnet_spec.build({"extends": "resnetv2_50", "input": {"height": 32, "width": 32},
                              "stages": [{"depth": 1, "width": 16}]}, seed=1).eval()
    x = batch(size=32)
    with torch.no_grad():
        features = ours.forward_features(x)
        assert torch.all(features >= 0)  # after norm and act
        torch.testing.assert_close(ours.forward_head(features), ours(x))


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_fx_node_names_are_torchvisions(name: str) -> None:
    ours = resnet_spec.build(name, device="meta")
    theirs = getattr(torchvision.models, name)()
    assert get_graph_node_names(ours) == get_graph_node_names(theirs)


def test_create_feature_extractor_with_torchvisions_node_names() -> None:
    torch.manual_seed(0)
    theirs = torchvision.models.resnet18().eval()
    ours = resnet_spec.build(SMALL).eval()
    ours.load_state_dict(theirs.state_dict())
    nodes = {"layer3.1.relu_1": "mid", "layer4.1.relu_1": "last"}
    x = batch()
    with torch.no_grad():
        got = create_feature_extractor(ours, nodes)(x)
        want = create_feature_extractor(theirs, nodes)(x)
    for key in nodes.values():
        torch.testing.assert_close(got[key], want[key])


def test_each_activation_is_its_own_module_so_a_hook_fires_once_per_call() -> None:
    ours = resnet_spec.build(SMALL, device="meta")
    block = ours.layer1[0]
    assert [n for n, m in block.named_children() if isinstance(m, nn.ReLU)] == ["relu", "relu_1"]
    assert len({id(block.relu), id(block.relu_1)}) == 2


def test_other_layouts_keep_timms_activation_names() -> None:
    se = resnet_spec.build("seresnet50", device="meta").layer1[0]
    assert {"act1", "act2", "act3"} <= {n for n, _ in se.named_children()}
    silu = resnet_spec.build({"extends": "resnet18", "activation": "silu"}, device="meta")
    assert {"act1", "act2"} <= {n for n, _ in silu.layer1[0].named_children()}
    preact = resnet_spec.build("resnetv2_50", device="meta").layer1[0]
    assert "relu" not in {n for n, _ in preact.named_children()}


def test_a_dilated_backbones_feature_info_is_timms() -> None:
    ours = resnet_spec.build("resnet50_os8", device="meta")
    theirs = timm.create_model("resnet50", output_stride=8, features_only=True,
                               out_indices=(1, 2, 3, 4), pretrained=False)
    assert ours.feature_info.reduction() == theirs.feature_info.reduction() == [4, 8, 8, 8]
    assert ours.feature_info.channels() == theirs.feature_info.channels()
    assert ours.out_channels == [256, 512, 1024, 2048]


def test_pretrained_cfg_reports_the_specs_own_preprocessing() -> None:
    spec = {"extends": "cifar_resnet20", "name": "own_prep",
            "preprocess": {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.2, 0.25], "resize": 40,
                           "crop": 32}}
    cfg = resnet_spec.build(spec, device="meta").pretrained_cfg
    assert (cfg["mean"], cfg["std"], cfg["crop_pct"]) == ((0.5, 0.4, 0.3), (0.2, 0.2, 0.25), 0.8)
    assert resolve_data_config(model=resnet_spec.build(spec, device="meta"))["mean"] == (
        0.5, 0.4, 0.3)
    # the ImageNet built-ins say ImageNet's, as their spec files now write it
    cfg = resnet_spec.build("resnet18", device="meta").pretrained_cfg
    assert cfg["mean"] == (0.485, 0.456, 0.406) and cfg["crop_pct"] == 0.875


def test_an_rgb_preprocess_is_adapted_to_another_input_as_the_stem_is() -> None:
    gray = resnet_spec.build({"extends": "resnet18", "name": "gray", "input": {"channels": 1}},
                             device="meta").pretrained_cfg
    assert gray["mean"] == pytest.approx((sum((0.485, 0.456, 0.406)) / 3,))
    four = resnet_spec.load({"extends": "resnet18", "name": "four", "input": {"channels": 4}})
    assert four.preprocess.per_channel("std", 4) == [0.229, 0.224, 0.225, 0.229]


@pytest.mark.parametrize("name", ["resnetblur50", "resnetrs50", "regnetx_002", "skresnet18"])
def test_feature_info_of_the_wider_family_is_timms(name: str) -> None:
    # the stem's tap is its act before the pool, where the pool is a blur after a stride-1 max
    # pool or a conv pool (ResNet-RS) as much as where it is a plain max pool
    with torch.device("meta"):
        theirs = timm.create_model(name, pretrained=False)
    ours = resnet_spec.build(name, device="meta")
    assert [(i["num_chs"], i["reduction"]) for i in ours.feature_info] == \
        [(i["num_chs"], i["reduction"]) for i in theirs.feature_info]
    assert ours.feature_info.module_name()[0] == "relu"
