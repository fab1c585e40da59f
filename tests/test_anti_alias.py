"""Anti-aliased downsampling (`block.anti_alias`, `stem.anti_alias`) and ResNet-RS's conv stem
pool (`stem.pool: conv`) against timm's own models built with the same options, beyond the
built-ins of test_variants_parity (resnetrs50, resnetblur50, resnetaa50d)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_parity import image, scramble_norms, shapes

import resnet_spec
from resnet_spec.errors import SpecError

timm = pytest.importorskip("timm")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _timm(name: str, **kwargs: object) -> torch.nn.Module:
    torch.manual_seed(5)
    model = timm.create_model(name, pretrained=False, **kwargs).eval()
    scramble_norms(model, 5)
    return model


@pytest.mark.parametrize(("spec", "timm_name", "aa"), [
    # a basic-block net: the anti-aliasing after the first conv's act
    ({"extends": "resnet18", "stem": {"anti_alias": "blur"}, "block": {"anti_alias": "blur"}},
     "resnet18", "blur"),
    ({"extends": "resnet18", "stem": {"anti_alias": "avg"}, "block": {"anti_alias": "avg"}},
     "resnet18", "avg"),
    # the conv stem pool anti-aliased: conv at stride 1, then blur, norm, act
    ({"extends": "resnet50d", "stem": {"pool": "conv", "anti_alias": "blur"},
      "block": {"anti_alias": "blur"}}, "resnet50d", "blur"),
    ({"extends": "resnet50d", "stem": {"pool": "conv", "anti_alias": "avg"},
      "block": {"anti_alias": "avg"}}, "resnet50d", "avg"),
    ({"extends": "resnet50d", "stem": {"pool": "conv"}}, "resnet50d", None),
])
def test_options_match_timms_models_built_with_them(spec: dict, timm_name: str,
                                                    aa: str | None) -> None:
    from timm.layers import BlurPool2d

    kwargs: dict[str, object] = {}
    if spec["stem"].get("pool") == "conv":
        kwargs["replace_stem_pool"] = True
    if aa is not None:  # timm's aa_layer reaches the stem and every block alike
        kwargs["aa_layer"] = {"blur": BlurPool2d, "avg": torch.nn.AvgPool2d}[aa]
    theirs = _timm(timm_name, **kwargs)
    ours = resnet_spec.build(spec, device="meta")
    assert list(shapes(ours).items()) == list(shapes(theirs).items())
    ours.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    x = image(2)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), theirs(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["resnetblur50", "resnetaa50d"])
def test_dilated_anti_aliased_nets_match_timms(name: str) -> None:
    # the blur stays, at stride 1, where the dilation takes a stage's stride; the 2x2 average
    # becomes timm's 1x1 there, nothing
    theirs = _timm(name, output_stride=8)
    spec = {"extends": name, "output_stride": 8}
    ours = resnet_spec.build(spec, device="meta")
    ours.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    x = image(2)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), theirs(x), atol=1e-5, rtol=1e-5)
    graph = resnet_spec.elaborate(spec)
    blurs = [n.name for n in graph.nodes() if n.op == "blur_pool" and n.scope.stage != "stem"]
    assert blurs == (["layer2.0.aa", "layer3.0.aa", "layer4.0.aa"]
                     if name == "resnetblur50" else [])


def test_the_blur_runs_only_where_a_block_strides() -> None:
    graph = resnet_spec.elaborate("resnetblur50")
    blurs = [n for n in graph.nodes() if n.op == "blur_pool"]
    assert [n.name for n in blurs] == ["maxpool.1", "layer2.0.aa", "layer3.0.aa", "layer4.0.aa"]
    assert graph.node("layer2.0.conv2").stride == 1
    assert graph.node("layer2.0.downsample.0").stride == 2  # the shortcut keeps its stride
    assert blurs[1].shape == (128, 28, 28) and blurs[1].macs() == 128 * 28 * 28 * 9


def test_a_map_too_small_to_reflect_pad_is_an_error_at_the_field(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text("extends: resnet18\ninput: {height: 16, width: 16}\n"
                    "block: {anti_alias: blur}\n")
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(spec)
    message = str(caught.value)
    assert f"{spec}:3:21:" in message and "reflect-pads its 1×1 input by 1" in message


def test_blur_exports_to_onnx_and_runs_there(tmp_path: Path, run_cli) -> None:
    pytest.importorskip("onnxruntime")
    spec = tmp_path / "blur.yaml"
    spec.write_text("extends: resnet18\nname: blur\ninput: {height: 64, width: 64}\n"
                    "stem: {anti_alias: blur}\nblock: {anti_alias: blur}\n"
                    "stages: [{depth: 1, width: 8}, {depth: 1, width: 16, stride: 2}]\n"
                    "head: {classes: 10}\n")
    done = run_cli("build", str(spec), "--to", "onnx", "--out", str(tmp_path / "out"))
    assert done.code == 0, done.err
    assert (tmp_path / "out" / "model.onnx").is_file()


def test_a_stage_turns_it_off_and_odd_maps_keep_the_shortcuts_size() -> None:
    stages = [{"depth": 1, "width": 64}, {"depth": 1, "width": 128, "stride": 2,
                                          "block": {"anti_alias": "none"}},
              {"depth": 1, "width": 256, "stride": 2}]
    graph = resnet_spec.elaborate({"extends": "resnetaa50d", "stages": stages,
                                   "input": {"height": 200, "width": 200}})
    assert [n.name for n in graph.nodes() if n.name.endswith(".aa")] == ["layer3.0.aa"]
    # 200 -> 100 (stem conv) -> 50 (pool) -> 25 (layer2) -> 13: the 2x2 pool in ceil mode, as
    # the avg_down shortcut, where timm's floor-mode pool would give 12 and fail at the addition
    assert graph.node("layer3.0.aa").shape == (256, 13, 13)
    model = resnet_spec.build(graph).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 200, 200)).shape == (1, 1000)
