"""Detection glue: a backbone spec into torchvision's real `FasterRCNN` with its defaults (an
FPN over four maps, `MultiScaleRoIAlign` on '0'..'3'), through `feature_info`, `out_channels`
and `feature_keys="torchvision"`, and one training step's losses."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

import resnet_spec

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"extends": "resnet18", "name": "tiny", "input": {"height": 64, "width": 64},
        "stem": {"width": 8},
        "stages": [{"depth": 1, "width": 8}, {"depth": 1, "width": 16, "stride": 2},
                   {"depth": 1, "width": 16, "stride": 2}, {"depth": 1, "width": 32,
                                                            "stride": 2}],
        "head": "none", "features": [1, 2, 3, 4]}


def images_and_targets() -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    gen = torch.Generator().manual_seed(0)
    images = [torch.rand(3, 64, 64, generator=gen) for _ in range(2)]
    targets = [{"boxes": torch.tensor([[4.0, 6.0, 30.0, 40.0]]), "labels": torch.tensor([1])},
               {"boxes": torch.tensor([[10.0, 12.0, 50.0, 60.0], [0.0, 0.0, 20.0, 20.0]]),
                "labels": torch.tensor([2, 1])}]
    return images, targets


def test_the_backbone_says_its_channels_strides_and_modules() -> None:
    backbone = resnet_spec.build(TINY)
    assert backbone.out_channels == [8, 16, 16, 32] == backbone.feature_info.channels()
    assert backbone.feature_info.reduction() == [4, 8, 16, 32]
    assert backbone.feature_info.module_name() == ["layer1", "layer2", "layer3", "layer4"]
    assert backbone.feature_info.keys() == ["stage1", "stage2", "stage3", "stage4"]
    keyed = resnet_spec.build(TINY, feature_keys="torchvision")
    assert list(keyed(torch.zeros(1, 3, 64, 64))) == ["0", "1", "2", "3"]
    assert keyed.feature_info.keys() == ["0", "1", "2", "3"]
    with pytest.raises(ValueError, match="feature_keys='timm'"):
        resnet_spec.build(TINY, feature_keys="timm")


def test_faster_rcnn_with_torchvisions_defaults_trains_on_it() -> None:
    torch.manual_seed(0)
    backbone = resnet_spec.build(TINY, seed=1)
    info = backbone.feature_info
    fpn = BackboneWithFPN(backbone, {m: str(i) for i, m in enumerate(info.module_name())},
                          in_channels_list=info.channels(), out_channels=32)
    detector = FasterRCNN(fpn, num_classes=3, min_size=64, max_size=64).train()
    images, targets = images_and_targets()
    losses = detector(images, targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness",
                           "loss_rpn_box_reg"}
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert backbone.layer1[0].conv1.weight.grad is not None  # the backbone is trained
    detector.eval()
    with torch.no_grad():
        found = detector(images)
    assert len(found) == 2 and set(found[0]) == {"boxes", "labels", "scores"}


def test_our_forward_with_torchvision_keys_feeds_an_fpn_directly() -> None:
    """The same detector's features without IntermediateLayerGetter: the module's own forward,
    keyed '0'..'3', into torchvision's FPN."""
    backbone = resnet_spec.build(TINY, seed=1, feature_keys="torchvision").eval()
    fpn = FeaturePyramidNetwork(backbone.out_channels, 32, LastLevelMaxPool())
    wrapped = BackboneWithFPN(backbone, {f"layer{i + 1}": str(i) for i in range(4)},
                              in_channels_list=backbone.out_channels, out_channels=32)
    wrapped.fpn.load_state_dict(fpn.state_dict())
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        direct = fpn(backbone(x))
        through = wrapped.eval()(x)
    assert list(direct) == list(through) == ["0", "1", "2", "3", "pool"]
    for key in direct:
        torch.testing.assert_close(direct[key], through[key])
