"""RegNet written natively: the stage generator against timm's, the block fields that state the
inner width (`group_width`, `bottleneck_ratio`), and the built-ins against timm's and
torchvision's own checkpoints, read through their layouts (`compiler/layouts.py`)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from test_parity import image, scramble_norms

import resnet_spec
from resnet_spec.errors import SpecError
from resnet_spec.spec.regnet import regnet_stages

timm = pytest.importorskip("timm")
torchvision = pytest.importorskip("torchvision")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", ["regnetx_002", "regnetx_004", "regnetx_016", "regnetx_032",
                                  "regnetx_080", "regnety_002", "regnety_016", "regnety_040",
                                  "regnety_120"])
def test_the_generator_gives_timms_stages(name: str) -> None:
    from timm.models import regnet

    cfg = regnet.model_cfgs[name]
    with torch.device("meta"):
        model = timm.create_model(name)
    theirs = [(len(stage.children_list()) if hasattr(stage, "children_list")
               else len([m for m in stage.children()]), stage.b1.conv3.conv.out_channels)
              for stage in (model.s1, model.s2, model.s3, model.s4)]
    ours = regnet_stages(cfg.depth, cfg.w0, cfg.wa, cfg.wm, cfg.group_size, cfg.bottle_ratio)
    assert [(s.depth, s.width) for s in ours] == theirs


@pytest.mark.parametrize(("name", "reference"), [
    ("regnetx_002", lambda: timm.create_model("regnetx_002")),
    ("regnety_016", lambda: timm.create_model("regnety_016")),
    ("regnet_y_400mf", lambda: torchvision.models.regnet_y_400mf()),
])
def test_their_checkpoints_load_through_their_layout_and_agree(
        name: str, reference, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    torch.manual_seed(11)
    theirs = reference().eval()
    scramble_norms(theirs, 11)
    weights = tmp_path / f"{name}.pt"
    torch.save(theirs.state_dict(), weights)
    assert resnet_spec.elaborate(name).param_count() == sum(
        p.numel() for p in theirs.parameters())
    with caplog.at_level(logging.INFO, logger="resnet_spec"):
        ours = resnet_spec.build(name, weights=weights).eval()
    library = "torchvision's" if name == "regnet_y_400mf" else "timm's"
    assert f"has {library} RegNet layout" in caplog.text
    x = image(2)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


def test_show_writes_the_generated_stages_out(run_cli) -> None:
    shown = run_cli("show", "regnetx_002")
    assert shown.code == 0
    assert "regnet" not in shown.out.split("\n", 1)[1].replace("regnetx_002", "")
    assert "- {depth: 4, width: 152, stride: 2" in shown.out
    assert "group_width: 8" in shown.out


def test_group_width_states_the_groups() -> None:
    spec = {"name": "g", "input": {"height": 32, "width": 32}, "shortcut": "projection",
            "stem": {"width": 16, "kernel": 3, "stride": 1, "pool": "none"},
            "block": {"kind": "bottleneck", "expansion": 1, "group_width": 8,
                      "bottleneck_ratio": 0.5},
            "stages": [{"depth": 1, "width": 32}, {"depth": 1, "width": 64, "stride": 2}]}
    graph = resnet_spec.elaborate(spec)
    assert [(b.inner, b.groups) for b in graph.blocks] == [(16, 2), (32, 4)]
    assert graph.node("layer2.0.conv2").groups == 4 and graph.warnings == []


@pytest.mark.parametrize(("change", "message"), [
    ({"stages": [{"depth": 1, "width": 24}]}, "a spec has `regnet` or `stages`, not both"),
    ({"regnet": {"w0": 20}}, "regnet.w0: w0 20 is not a multiple of quant 8"),
    ({"regnet": {"se_ratio": 0.3}}, "se_ratio 0.3 is not 1/n"),
    ({"block": {"groups": 4}}, "`groups` follows from `group_width`"),
    ({"block": {"base_width": 4}}, "`base_width` is torchvision's way"),
    ({"regnet": {"wm": 1.0}}, "regnet.wm: must be greater than 1"),
])
def test_bad_regnets_say_what_is_wrong(tmp_path: Path, change: dict, message: str) -> None:
    import yaml

    spec = tmp_path / "bad.yaml"
    spec.write_text("extends: regnetx_002\n" + yaml.safe_dump(change, default_flow_style=False))
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(spec)
    assert message in str(caught.value)
    assert f"{spec}:" in str(caught.value)


def test_a_group_width_that_does_not_divide_is_an_error_at_the_field(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("extends: regnetx_002\nblock: {group_width: 7}\n")
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(spec)
    assert str(caught.value).startswith(
        f"{spec}:2:22: block.group_width: group_width 7 does not divide the inner width 24 of "
        "block layer1.0")
