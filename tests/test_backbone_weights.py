"""A backbone from a classifier's weights, and a stem for other input channels than the
file's (`compiler/fit.py`): what is adapted, the note that says so, and every other misfit
still an error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from timm.models import adapt_input_conv
from torchvision.models._utils import IntermediateLayerGetter

import resnet_spec
from resnet_spec.compiler import WeightsError, compile_graph
from resnet_spec.compiler.fit import adapt_input_channels

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FEATURES = """\
extends: resnet18
name: r18_features
input: {height: 64, width: 64}
head: none
features: [1, 2, 3, 4]
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("backbone")


@pytest.fixture(scope="module")
def torchvision18(folder: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(99)
    model = torchvision.models.resnet18().eval()
    path = folder / "tv18.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    return model, path


def compile_noting(spec: str | dict, weights: Path, **kwargs: object
                   ) -> tuple[torch.nn.Module, list[str]]:
    notes: list[str] = []
    graph = resnet_spec.elaborate(spec)
    return compile_graph(graph, weights=weights, on_note=notes.append, **kwargs), notes


def test_a_features_backbone_loads_a_classifier_checkpoint(
        torchvision18: tuple[torch.nn.Module, Path], folder: Path) -> None:
    tv, weights = torchvision18
    spec = folder / "features.yaml"
    spec.write_text(FEATURES)
    ours, notes = compile_noting(str(spec), weights)
    assert notes == ["left the file's classifier unused: fc.weight, fc.bias (1000 classes from "
                     "512 features); r18_features has no head"]
    theirs = IntermediateLayerGetter(tv, {f"layer{i}": f"stage{i}" for i in range(1, 5)})
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        got, want = ours.eval()(x), theirs(x)
    assert list(got) == list(want)
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-5, atol=1e-5)


def test_head_none_loads_it_too_and_the_python_api_logs_the_note(
        torchvision18: tuple[torch.nn.Module, Path], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="resnet_spec"):
        model = resnet_spec.build({"extends": "resnet18", "head": "none"},
                                  weights=torchvision18[1])
    assert "fc.weight" not in model.state_dict()
    assert "left the file's classifier unused: fc.weight, fc.bias" in caplog.text


def test_other_misfits_stay_errors(torchvision18: tuple[torch.nn.Module, Path],
                                   folder: Path) -> None:
    state = dict(torchvision18[0].state_dict())
    state["extra.weight"] = torch.zeros(3)
    bad = folder / "extra.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, bad)
    with pytest.raises(WeightsError, match=r"fit resnet18: 1 unexpected: extra\.weight \(") as err:
        resnet_spec.build({"extends": "resnet18", "head": "none"}, weights=bad)
    assert "fc." not in str(err.value)
    with pytest.raises(WeightsError, match="missing"):  # another architecture: still refused
        resnet_spec.build({"extends": "resnet34", "head": "none"}, weights=torchvision18[1])


def test_a_backbone_with_reinit_head_says_to_leave_the_flag_out(
        torchvision18: tuple[torch.nn.Module, Path]) -> None:
    with pytest.raises(WeightsError, match="nothing to reinitialize") as err:
        resnet_spec.build({"extends": "resnet18", "head": "none"}, weights=torchvision18[1],
                          reinit_head=True)
    assert "leaves the file's classifier unused" in err.value.hint


def test_cli_build_of_a_backbone_says_what_it_left_out(
        torchvision18: tuple[torch.nn.Module, Path], folder: Path, run_cli) -> None:
    spec = folder / "cli.yaml"
    spec.write_text(FEATURES)
    result = run_cli("build", str(spec), "--weights", str(torchvision18[1]),
                     "--out", str(folder / "out"))
    assert result.code == 0, result.err
    assert "note: left the file's classifier unused: fc.weight, fc.bias" in result.err


@pytest.mark.parametrize("channels", [1, 2, 4, 7])
def test_input_channels_adapt_as_timm_in_chans(channels: int) -> None:
    weight = torch.randn(64, 3, 7, 7, generator=torch.Generator().manual_seed(channels))
    torch.testing.assert_close(adapt_input_channels(weight, channels),
                               adapt_input_conv(channels, weight.clone()))


def test_a_gray_stem_sees_a_gray_image_as_the_file_sees_it_in_color(
        torchvision18: tuple[torch.nn.Module, Path]) -> None:
    tv, weights = torchvision18
    spec = {"extends": "resnet18", "name": "gray", "input": {"channels": 1, "height": 64,
                                                             "width": 64}}
    gray, notes = compile_noting(spec, weights)
    assert notes == ["adapted conv1.weight from 3 to 1 input channels (summed over the file's "
                     "channels, as timm's in_chans)"]
    x = torch.randn(2, 1, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(gray.eval()(x), tv(x.expand(-1, 3, -1, -1)),
                                   rtol=1e-4, atol=1e-4)


def test_a_deep_stem_for_four_channels(folder: Path) -> None:
    torch.manual_seed(0)
    source = resnet_spec.build({"extends": "resnet50d", "input": {"height": 32, "width": 32}})
    path = folder / "r50d.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, path)
    spec = {"extends": "resnet50d", "input": {"channels": 4, "height": 32, "width": 32}}
    four, notes = compile_noting(spec, path, reinit_head=False)
    assert notes == ["adapted conv1.0.weight from 3 to 4 input channels (the file's channels "
                     "repeated and scaled by 3/4, as timm's in_chans)"]
    want = adapt_input_conv(4, source.state_dict()["conv1.0.weight"].clone())
    torch.testing.assert_close(four.state_dict()["conv1.0.weight"], want)


def test_a_stem_conv_of_another_shape_is_still_an_error(
        torchvision18: tuple[torch.nn.Module, Path]) -> None:
    spec = {"extends": "resnet18", "stem": {"width": 32}, "input": {"channels": 1}}
    with pytest.raises(WeightsError, match=r"conv1\.weight \(file \(64, 3, 7, 7\), model "
                       r"\(32, 1, 7, 7\)\)"):
        resnet_spec.build(spec, weights=torchvision18[1])
