"""`resnet-spec infer`: checkpoints of every built-in, and of torchvision's and timm's own
modules, read back into specs that load them strictly and give the same network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

import resnet_spec
from resnet_spec.compiler.infer import InferError, infer
from resnet_spec.spec import builtins

timm = pytest.importorskip("timm")
torchvision = pytest.importorskip("torchvision")

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WEIGHTLESS = {
    "resnet50_v1": "the stride on the 1x1 conv", "resnet101_v1": "the stride on the 1x1 conv",
    "resnet152_v1": "the stride on the 1x1 conv", "resnet50_os8": "dilation",
    "resnetblur50": "anti-aliasing", "resnetaa50d": "anti-aliasing",
    "wrn28_10": "dropout", "cifar_plain20": "no shortcuts", "cifar_plain56": "no shortcuts",
    "plain18": "no shortcuts", "plain34": "no shortcuts",
}
"""Built-ins whose checkpoints hold everything but this: infer reads the same keys and
shapes into the family's usual network, which differs from them only there."""


def _structure(graph: Any) -> list[tuple[Any, ...]]:
    return [(n["name"], n["op"], n["inputs"], n["shape"], n["attrs"])
            for n in graph.to_json()["nodes"]]


@pytest.mark.parametrize("name", builtins.names())
def test_every_builtin_checkpoint_infers_back(name: str) -> None:
    graph = resnet_spec.elaborate(name)
    inferred = infer(graph.state_shapes(), name=name)
    again = resnet_spec.elaborate(inferred.spec)
    assert again.state_shapes() == graph.state_shapes()
    if name in WEIGHTLESS:
        assert _structure(again) != _structure(graph)
    else:  # the same graph, node for node: the same outputs for the same weights
        assert _structure(again) == _structure(graph)


def _save(model: torch.nn.Module, path: Path) -> torch.nn.Module:
    torch.manual_seed(0)
    for module in model.modules():  # statistics that are not the defaults
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    torch.save(model.state_dict(), path)
    return model.eval()


@pytest.mark.parametrize(("library", "name", "layout"), [
    ("torchvision", "resnet50", None),
    ("torchvision", "regnet_y_400mf", "torchvision's RegNet"),
    ("timm", "regnetx_002", "timm's RegNet"),
    ("timm", "resnetv2_50", "timm's ResNetV2"),
    ("timm", "seresnext26d_32x4d", None),
    ("timm", "skresnet18", None),
])
def test_their_checkpoints_infer_to_specs_that_give_their_outputs(
        library: str, name: str, layout: str | None, tmp_path: Path, run_cli) -> None:
    torch.manual_seed(0)
    theirs = (torchvision.models.get_model(name) if library == "torchvision"
              else timm.create_model(name, pretrained=False))
    theirs = _save(theirs, tmp_path / f"{name}.pth")
    done = run_cli("infer", str(tmp_path / f"{name}.pth"), "-o", str(tmp_path / "spec.yaml"))
    assert done.code == 0, done.err
    assert "load strictly" in done.err
    assert (f"read {layout} layout" in done.err) == (layout is not None)
    ours = resnet_spec.build(tmp_path / "spec.yaml", weights=tmp_path / f"{name}.pth").eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = theirs(x)
        torch.testing.assert_close(ours(x), expected, atol=2e-5 * expected.abs().max().item(),
                                   rtol=1e-5)


def test_json_and_stdout(tmp_path: Path, run_cli) -> None:
    _save(torchvision.models.resnet18(num_classes=10), tmp_path / "r18.pth")
    shown = run_cli("infer", str(tmp_path / "r18.pth"))
    assert shown.code == 0, shown.err
    spec = yaml.safe_load(shown.out)
    assert spec["name"] == "r18" and spec["head"] == {"pool": "avg", "classes": 10}
    assert [s["depth"] for s in spec["stages"]] == [2, 2, 2, 2]
    as_json = run_cli("infer", str(tmp_path / "r18.pth"), "--json", "--name", "mine")
    data = json.loads(as_json.out)
    assert data["spec"]["name"] == "mine" and data["proof"]["loaded_strictly"]
    assert data["proof"]["output_shape"] == [1, 10]
    assert any("no dilation" in a for a in data["assumed"])


def test_a_network_outside_the_family_is_one_clear_error(tmp_path: Path, run_cli) -> None:
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 2)).state_dict(), tmp_path / "mlp.pt")
    done = run_cli("infer", str(tmp_path / "mlp.pt"), "-o", str(tmp_path / "mlp.yaml"))
    assert done.code == 1
    assert "no stem conv" in done.err and "`0.weight`" in done.err
    assert "Traceback" not in done.err
    assert not (tmp_path / "mlp.yaml").exists()


def test_names_of_the_family_with_other_shapes_are_one_error() -> None:
    shapes = dict(resnet_spec.elaborate("resnet18").state_shapes())
    shapes["conv1.weight"] = (64, 3)  # a linear layer's
    with pytest.raises(InferError, match="the ResNet family's names but not its shapes"):
        infer(shapes, name="odd")
    del shapes["conv1.weight"]
    shapes["conv1.0.weight"] = (32, 3, 3, 3)
    with pytest.raises(InferError, match="not timm's deep stem's"):
        infer(shapes, name="odd")


def test_keys_no_reading_places_are_named(tmp_path: Path) -> None:
    shapes = dict(resnet_spec.elaborate("resnet18").state_shapes())
    shapes["layer2.1.extra.weight"] = (8, 8, 1, 1)
    with pytest.raises(InferError) as caught:
        infer(shapes, name="odd", source="odd.pth")
    message = str(caught.value)
    assert message.startswith("odd.pth")
    assert "read 4 stages of `basic` blocks" in message
    assert "layer2.1.extra.weight" in message
