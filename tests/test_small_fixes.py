"""Issue 23's small things: "1 block", a renamed spec's own title, the pre-activation
projection drawn as what it is, and `--to onnx,tensorrt` without TensorRT writing the ONNX
and the hand-off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import resnet_spec
from resnet_spec.render import to_dot

ONE_BLOCK = {"extends": "resnet18", "name": "one",
             "stages": [{"depth": 1, "width": 8}, {"depth": 2, "width": 16, "stride": 2}]}


@pytest.mark.parametrize("level", ["blocks", "layers"])
def test_one_block_is_singular(level: str) -> None:
    dot = to_dot(resnet_spec.elaborate(ONE_BLOCK), level=level)
    assert "layer1 · 1 block" in dot and "1 blocks" not in dot
    assert "layer2 · 2 blocks" in dot


def test_validate_says_1_block(run_cli, tmp_path: Path) -> None:
    spec = tmp_path / "one.yaml"
    spec.write_text("extends: resnet18\nname: one\nstages: [{depth: 1, width: 8}]\n")
    result = run_cli("validate", str(spec))
    assert result.code == 0 and "one: 1 block," in result.out


def test_a_renamed_spec_does_not_take_its_parents_description(tmp_path: Path) -> None:
    renamed = resnet_spec.load({"extends": "resnet18", "name": "flowers"})
    assert renamed.description == ""
    assert "ResNet-18" not in to_dot(resnet_spec.elaborate(renamed), level="stages")
    own = resnet_spec.load({"extends": "resnet18", "name": "flowers", "description": "mine"})
    assert own.description == "mine"
    same = resnet_spec.load({"extends": "resnet18", "head": {"classes": 10}})
    assert same.name == "resnet18" and same.description == resnet_spec.load(
        "resnet18").description
    chained = tmp_path / "child.yaml"
    (tmp_path / "parent.yaml").write_text("extends: resnet18\nname: parent\n"
                                          "description: the parent\n")
    chained.write_text("extends: parent.yaml\nname: child\n")
    assert resnet_spec.load(chained).description == ""


def test_the_preactivation_projection_is_drawn_without_a_norm() -> None:
    graph = resnet_spec.elaborate("resnetv2_50")
    model = resnet_spec.build(graph, device="meta")
    shortcut = model.layer1[0].downsample
    # what the module has: a bare 1x1 conv
    assert [type(m).__name__ for m in shortcut] == ["Conv2d"]
    dot = to_dot(graph, level="blocks")
    assert "projection: 1×1 conv" in dot and "1×1 conv + norm" not in dot
    assert "projection: 1×1 conv + norm" in to_dot(resnet_spec.elaborate("resnet50"),
                                                    level="blocks")


def test_onnx_and_tensorrt_without_tensorrt_write_the_onnx_and_the_handoff(
        run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from resnet_spec.compiler.targets import tensorrt

    monkeypatch.setattr(tensorrt, "missing", lambda: "--to tensorrt needs a CUDA GPU")
    out = tmp_path / "out"
    result = run_cli("export", "cifar_resnet20", "--to", "onnx,tensorrt", "--batch", "1:2:4",
                     "--out", str(out), "-q")
    assert result.code == 0, result.err
    assert (out / "model.onnx").is_file()
    script = (out / "tensorrt.sh").read_text()
    assert script.startswith("#!/bin/sh\n") and 'cd "$(dirname "$0")"' in script
    assert ("trtexec --onnx=model.onnx --minShapes=images:1x3x32x32 "
            "--optShapes=images:2x3x32x32 --maxShapes=images:4x3x32x32 "
            "--saveEngine=model.engine") in script
    assert f"sh {out}/tensorrt.sh" in result.err and f"{out}/model.onnx is written" in result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["targets"]["tensorrt"] == {"built": False, "handoff": "tensorrt.sh",
                                               "why": "--to tensorrt needs a CUDA GPU"}
    assert manifest["targets"]["onnx"]["check"]["passed"]
    assert "tensorrt.sh" in manifest["files"]


def test_tensorrt_alone_still_exits_3_naming_the_folder(
        run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from resnet_spec.compiler.targets import tensorrt

    monkeypatch.setattr(tensorrt, "missing", lambda: "--to tensorrt needs a CUDA GPU")
    result = run_cli("export", "cifar_resnet20", "--to", "tensorrt", "--out",
                     str(tmp_path / "x"))
    assert result.code == 3
    assert ("--out build/cifar_resnet20-onnx, then in build/cifar_resnet20-onnx: trtexec "
            "--onnx=model.onnx") in result.err
    assert not (tmp_path / "x").exists()
