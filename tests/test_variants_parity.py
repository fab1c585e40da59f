"""The variants against the real libraries: timm's ResNet-C/D, SE-ResNet(X)t and ResNetV2 (through
the key adapter), torchvision's dilated ResNet-50 and both libraries' feature extractors; and
stochastic depth's rate in training and identity in eval."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_parity import image, scramble_norms, shapes

import resnet_spec
from resnet_spec.compiler.adapters import from_timm_resnetv2, main, to_timm_resnetv2

timm = pytest.importorskip("timm")
torchvision = pytest.importorskip("torchvision")

TIMM_VARIANTS = ["resnet50c", "resnet50d", "resnet50t", "resnetrs50", "resnetblur50",
                 "resnetaa50d", "ecaresnet50d", "res2net50_26w_4s", "resnest50d",
                 "skresnet18", "skresnext50_32x4d",
                 "seresnet50", "seresnext50_32x4d"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def timm_model(name: str, seed: int, **kwargs: object) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False, **kwargs).eval()
    scramble_norms(model, seed)
    return model


def ours_with(name: str | Path, state: dict[str, torch.Tensor]) -> torch.nn.Module:
    model = resnet_spec.build(name, device="meta")
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


@pytest.mark.parametrize("name", TIMM_VARIANTS)
def test_timm_variant_keys_order_and_outputs(name: str, tmp_path: Path) -> None:
    theirs = timm_model(name, 3)
    assert list(shapes(resnet_spec.build(name, device="meta")).items()) == list(
        shapes(theirs).items())
    # timm's own checkpoint file, as `build NAME --weights FILE` takes it
    torch.save(theirs.state_dict(), tmp_path / f"{name}.pth")
    ours = resnet_spec.build(name, weights=tmp_path / f"{name}.pth").eval()
    x = image(2)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", [*TIMM_VARIANTS, "resnet101d", "resnetv2_50"])
def test_parameter_counts_equal_timms(name: str) -> None:
    with torch.device("meta"):
        theirs = timm.create_model(name, pretrained=False)
    assert resnet_spec.elaborate(name).param_count() == sum(
        p.numel() for p in theirs.parameters())


def test_timm_resnetv2_loads_through_the_adapter(tmp_path: Path) -> None:
    theirs = timm_model("resnetv2_50", 4)
    graph = resnet_spec.elaborate("resnetv2_50")
    ours = ours_with("resnetv2_50", from_timm_resnetv2(theirs.state_dict(), graph.state_shapes()))
    x = image(3)
    with torch.no_grad():
        expected = theirs(x)
        # timm's head is a 1x1 conv, ours a linear layer: the same sums in another order
        scale = expected.abs().max().item()
        torch.testing.assert_close(ours(x), expected, atol=2e-6 * scale, rtol=1e-5)
    back = to_timm_resnetv2(ours.state_dict())
    assert shapes_of(back) == shapes(theirs)
    source, target = tmp_path / "timm.pt", tmp_path / "ours.safetensors"
    torch.save(theirs.state_dict(), source)
    assert main([str(source), str(target), "--spec", "resnetv2_50"]) == 0
    built = resnet_spec.build("resnetv2_50", weights=target).eval()
    with torch.no_grad():
        assert torch.equal(built(x), ours(x))


def shapes_of(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items()}


def test_adapter_refuses_keys_it_does_not_know() -> None:
    with pytest.raises(KeyError, match=r"stages\.0\.blocks\.0\.se\.fc1\.weight"):
        from_timm_resnetv2({"stages.0.blocks.0.se.fc1.weight": torch.zeros(1)})


def test_dilated_backbone_equals_torchvision_intermediate_layers() -> None:
    from torchvision.models._utils import IntermediateLayerGetter

    torch.manual_seed(5)
    net = torchvision.models.resnet50(replace_stride_with_dilation=[False, True, True]).eval()
    scramble_norms(net, 5)
    layers = {f"layer{i}": f"stage{i}" for i in range(1, 5)}
    theirs = IntermediateLayerGetter(net, layers)
    ours = ours_with("resnet50_os8", theirs.state_dict())
    x = image(4)
    with torch.no_grad():
        got, expected = ours(x), theirs(x)
    assert list(got) == list(expected) == ["stage1", "stage2", "stage3", "stage4"]
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], atol=1e-5, rtol=1e-5)
    assert got["stage4"].shape == (1, 2048, 8, 8)


@pytest.mark.parametrize("output_stride", [8, 16])
def test_dilated_resnet_d_equals_timms(output_stride: int) -> None:
    # in a dilated stage timm's avg-down shortcut pools 2x2 at stride 1, padding the map's end
    theirs = timm_model("resnet50d", 7, output_stride=output_stride)
    spec = {"extends": "resnet50d", "output_stride": output_stride}
    ours = ours_with(spec, theirs.state_dict())
    x = image(6)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
    pool = resnet_spec.elaborate(spec).node("layer4.0.downsample.0")
    assert (pool.stride, pool.same, pool.label()) == (1, True, "avgpool 2×2 /1 same")


def test_the_size_keeping_pool_exports_to_onnx(tmp_path: Path, run_cli) -> None:
    pytest.importorskip("onnxruntime")
    spec = tmp_path / "dilated_d.yaml"
    spec.write_text("extends: resnet50d\nname: dilated_d\ninput: {height: 64, width: 64}\n"
                    "stages: [{depth: 1, width: 8}, {depth: 1, width: 16, dilation: 2}]\n"
                    "head: {classes: 10}\n")
    done = run_cli("build", str(spec), "--to", "onnx", "--out", str(tmp_path / "out"))
    assert done.code == 0, done.err
    assert (tmp_path / "out" / "model.onnx").is_file()
    assert resnet_spec.elaborate(spec).node("layer2.0.downsample.0").same


@pytest.mark.parametrize(("spec", "name", "kwargs"), [
    ("resnet50_os8", "resnet50", {"output_stride": 8, "out_indices": (1, 2, 3, 4)}),
    ("extends: resnet50d\nname: d_features\nhead: none\nfeatures: [0, 1, 2, 3, 4]\n",
     "resnet50d", {}),
], ids=["resnet50_os8", "resnet50d_with_stem"])
def test_features_equal_timm_features_only(spec: str, name: str, kwargs: dict, tmp_path: Path
                                           ) -> None:
    if "\n" in spec:
        (tmp_path / "f.yaml").write_text(spec)
        spec = str(tmp_path / "f.yaml")
    theirs = timm_model(name, 6, features_only=True, **kwargs)
    ours = ours_with(spec, theirs.state_dict())
    x = image(5)
    with torch.no_grad():
        got, expected = ours(x), theirs(x)
    assert len(got) == len(expected)
    for mine, their in zip(got.values(), expected, strict=True):
        torch.testing.assert_close(mine, their, atol=1e-5, rtol=1e-5)
    graph = resnet_spec.elaborate(spec)
    from resnet_spec.ir.cost import analyze

    strides = [o.stride for o in analyze(graph).outputs]
    assert strides == theirs.feature_info.reduction()


def _drop_path_spec(tmp_path: Path, rate: float) -> Path:
    path = tmp_path / f"dp{rate}.yaml"
    path.write_text("name: dp\ninput: {height: 8, width: 8}\nstem: {width: 4, kernel: 3, "
                    f"stride: 1, pool: none}}\nblock: {{drop_path: {rate}}}\nstages:\n"
                    "  - {depth: 2, width: 4}\nhead: none\n")
    return path


def test_drop_path_drops_whole_branches_at_the_rate(tmp_path: Path) -> None:
    model = resnet_spec.build(_drop_path_spec(tmp_path, 0.3), seed=1)  # training mode
    module = model.get_submodule("layer1.1.drop_path")  # the last block: the full rate
    assert module.p == pytest.approx(0.3)
    seen: dict[str, torch.Tensor] = {}
    module.register_forward_hook(lambda m, args, out: seen.update(x=args[0], y=out))
    torch.manual_seed(0)
    model(torch.randn(4000, 3, 8, 8))
    x, y = seen["x"].flatten(1), seen["y"].flatten(1)
    dropped = (y == 0).all(dim=1)
    kept = ~dropped
    torch.testing.assert_close(y[kept], x[kept] / 0.7)  # survivors scaled by 1 / (1 - p)
    # 4000 Bernoulli draws at p = 0.3: the standard deviation of the rate is 0.0072
    assert abs(dropped.float().mean().item() - 0.3) < 4 * 0.0073


def test_drop_path_is_an_identity_in_eval(tmp_path: Path) -> None:
    from resnet_spec.compiler.lower import DropPath

    with_drop = resnet_spec.build(_drop_path_spec(tmp_path, 0.5), seed=2).eval()
    without = resnet_spec.build(_drop_path_spec(tmp_path, 0.0), seed=2).eval()
    assert any(isinstance(m, DropPath) for m in with_drop.modules())
    fast = resnet_spec.build(_drop_path_spec(tmp_path, 0.5), seed=2, for_inference=True)
    # an identity in eval, so the inference build drops it (it is training-only)
    assert "drop_path" not in fast.code
    assert not any(isinstance(m, DropPath) for m in fast.modules())
    x = torch.randn(16, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(with_drop(x), without(x))
        torch.testing.assert_close(fast(x), with_drop(x), atol=1e-5, rtol=1e-4)
        with_drop.train()
        assert not torch.equal(with_drop(x), without.train()(x))
