"""Fine-tuning with `--reinit-head` / `reinit_head=True`: every tensor but the classifier from
the file, the classifier exactly as a fresh build with the same seed, any other misfit still an
error, and the tool saying what it did."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import load_file, save_file

import resnet_spec
from resnet_spec import Graph
from resnet_spec.compiler import WeightsError, compile_graph
from resnet_spec.compiler.head import classifier, misfit_hint

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEN_CLASSES = """\
extends: resnet18
name: resnet18_10
input: {height: 64, width: 64}
head: {classes: 10}
"""
BACKBONE = """\
extends: resnet18
name: resnet18_backbone
input: {height: 64, width: 64}
head: none
"""


def save(state: dict[str, torch.Tensor], path: Path) -> Path:
    save_file({k: v.contiguous() for k, v in state.items()}, path)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reinit")


@pytest.fixture(scope="module")
def torchvision18(folder: Path) -> tuple[torch.nn.Module, Path]:
    """torchvision's resnet18 (1000 classes, its own random init, seed fixed) and its
    state_dict saved to a file, as a user would save downloaded weights."""
    torch.manual_seed(1234)
    model = torchvision.models.resnet18().eval()
    return model, save(model.state_dict(), folder / "tv18.safetensors")


@pytest.fixture(scope="module")
def spec10(folder: Path) -> Path:
    path = folder / "resnet18_10.yaml"
    path.write_text(TEN_CLASSES)
    return path


def build_noting(spec: Path | str, **kwargs: object) -> tuple[torch.nn.Module, list[str]]:
    notes: list[str] = []
    graph = resnet_spec.elaborate(spec)
    return compile_graph(graph, reinit_head=True, on_note=notes.append, **kwargs), notes


def test_torchvision_weights_load_everywhere_but_fc_and_give_its_features(
        torchvision18: tuple[torch.nn.Module, Path], spec10: Path) -> None:
    tv, weights = torchvision18
    ours, notes = build_noting(spec10, weights=weights)
    ours.eval()
    theirs = tv.state_dict()
    mine = ours.state_dict()
    assert list(mine) == list(theirs)
    for key in theirs:
        if not key.startswith("fc."):
            assert torch.equal(mine[key], theirs[key]), key
    assert tuple(mine["fc.weight"].shape) == (10, 512)
    assert notes == ["loaded 120 tensors from tv18.safetensors; fc (10 classes) initialized "
                     "from seed 0 (the file's fc has 1000)"]

    pooled: list[torch.Tensor] = []
    ours.get_submodule("fc").register_forward_pre_hook(lambda m, args: pooled.append(args[0]))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = ours(x)
        features = torch.nn.Sequential(*list(tv.children())[:-1])(x).flatten(1)
    assert logits.shape == (2, 10)
    torch.testing.assert_close(pooled[0], features, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 7])
def test_the_new_classifier_is_the_fresh_builds(
        torchvision18: tuple[torch.nn.Module, Path], spec10: Path, seed: int) -> None:
    _, weights = torchvision18
    tuned = resnet_spec.build(spec10, weights=weights, reinit_head=True, seed=seed)
    fresh = resnet_spec.build(spec10, seed=seed)
    for key in ("fc.weight", "fc.bias"):
        assert torch.equal(tuned.state_dict()[key], fresh.state_dict()[key]), key
    assert not torch.equal(tuned.state_dict()["conv1.weight"], fresh.state_dict()["conv1.weight"])


def test_a_file_without_the_classifier_loads(
        torchvision18: tuple[torch.nn.Module, Path], spec10: Path, folder: Path) -> None:
    tv, _ = torchvision18
    headless = save({k: v for k, v in tv.state_dict().items() if not k.startswith("fc.")},
                    folder / "headless.safetensors")
    model, notes = build_noting(spec10, weights=headless, seed=3)
    assert torch.equal(model.state_dict()["fc.bias"],
                       resnet_spec.build(spec10, seed=3).state_dict()["fc.bias"])
    assert notes[0].endswith("fc (10 classes) initialized from seed 3 (the file has no fc)")


def test_a_classifier_that_already_fits_is_reinitialized_anyway(
        torchvision18: tuple[torch.nn.Module, Path], folder: Path) -> None:
    tv, weights = torchvision18
    spec = folder / "r18_64.yaml"
    spec.write_text(TEN_CLASSES.replace("classes: 10", "classes: 1000"))
    model, notes = build_noting(spec, weights=weights)
    assert not torch.equal(model.state_dict()["fc.weight"], tv.state_dict()["fc.weight"])
    assert torch.equal(model.state_dict()["layer4.1.bn2.weight"],
                       tv.state_dict()["layer4.1.bn2.weight"])
    assert "the file's fc has 1000 too: replaced, as asked" in notes[0]


@pytest.mark.parametrize("change, named", [
    (lambda s: s.pop("layer1.0.conv1.weight"), "1 missing: layer1.0.conv1.weight"),
    (lambda s: s.update({"extra.weight": torch.zeros(3)}), "1 unexpected: extra.weight"),
    (lambda s: s.update({"bn1.bias": torch.zeros(32)}), "1 wrongly shaped: bn1.bias"),
    (lambda s: s.update({"head.fc.weight": s.pop("fc.weight")}), "1 unexpected: head.fc"),
])
def test_every_other_misfit_stays_an_error(
        torchvision18: tuple[torch.nn.Module, Path], spec10: Path, folder: Path,
        change: object, named: str) -> None:
    state = dict(torchvision18[0].state_dict())
    change(state)  # type: ignore[operator]
    bad = save(state, folder / "bad.safetensors")
    with pytest.raises(WeightsError, match=f"do not fit resnet18_10: .*{named}"):
        resnet_spec.build(spec10, weights=bad, reinit_head=True)


def test_a_backbone_has_nothing_to_reinitialize(
        torchvision18: tuple[torch.nn.Module, Path], folder: Path) -> None:
    spec = folder / "backbone.yaml"
    spec.write_text(BACKBONE)
    with pytest.raises(WeightsError, match=r"nothing to reinitialize: resnet18_backbone has no "
                       r"classifier \(it ends with `head: none`\)"):
        resnet_spec.build(spec, weights=torchvision18[1], reinit_head=True)


def test_reinit_head_needs_weights(spec10: Path) -> None:
    with pytest.raises(ValueError, match="reinit_head=True needs weights"):
        resnet_spec.build(spec10, reinit_head=True)


def test_for_inference_computes_what_the_eval_module_does(
        torchvision18: tuple[torch.nn.Module, Path], spec10: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    weights = torchvision18[1]
    with caplog.at_level(logging.INFO, logger="resnet_spec"):
        folded = resnet_spec.build(spec10, weights=weights, reinit_head=True,
                                   for_inference=True)
    assert "fc (10 classes) initialized from seed 0" in caplog.text  # the Python API says so
    plain = resnet_spec.build(spec10, weights=weights, reinit_head=True).eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(folded(x), plain(x), rtol=1e-4, atol=1e-4)


def test_export_uses_the_new_head_and_the_manifest_records_it(
        torchvision18: tuple[torch.nn.Module, Path], spec10: Path, folder: Path,
        run_cli) -> None:
    out = folder / "export"
    result = run_cli("export", str(spec10), "--to", "pt2", "--weights",
                     str(torchvision18[1]), "--reinit-head", "--seed", "4", "--out", str(out))
    assert result.code == 0, result.err
    assert ("note: loaded 120 tensors from tv18.safetensors; fc (10 classes) initialized from "
            "seed 4 (the file's fc has 1000)") in result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["weights"]["reinit_head"] == ["fc.weight", "fc.bias"]
    assert manifest["seed"] == 4 and manifest["targets"]["pt2"]["check"]["passed"]
    assert any("initialized from seed 4" in n for n in manifest["notes"])


def test_build_to_onnx_checks_the_new_head_and_writes_it(
        torchvision18: tuple[torch.nn.Module, Path], spec10: Path, folder: Path,
        run_cli) -> None:
    out = folder / "build"
    result = run_cli("build", str(spec10), "--weights", str(torchvision18[1]),
                     "--reinit-head", "--to", "onnx", "--out", str(out), "-q")
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["targets"]["onnx"]["check"]["passed"]
    assert manifest["weights"]["reinit_head"] == ["fc.weight", "fc.bias"]
    written = load_file(out / "model.safetensors")
    fresh = resnet_spec.build(spec10, seed=0).state_dict()
    assert torch.equal(written["fc.weight"], fresh["fc.weight"])
    assert torch.equal(written["conv1.weight"], torchvision18[0].state_dict()["conv1.weight"])


def test_cli_errors(torchvision18: tuple[torch.nn.Module, Path], spec10: Path, folder: Path,
                    run_cli) -> None:
    alone = run_cli("build", str(spec10), "--reinit-head", "--out", str(folder / "x"))
    assert alone.code == 2 and "--reinit-head needs --weights FILE" in alone.err
    (folder / "bb.yaml").write_text(BACKBONE)
    backbone = run_cli("export", str(folder / "bb.yaml"), "--to", "pt2", "--weights",
                       str(torchvision18[1]), "--reinit-head", "--out", str(folder / "y"))
    assert backbone.code == 1 and "nothing to reinitialize" in backbone.err
    assert "Traceback" not in backbone.err
    assert not (folder / "x").exists() and not (folder / "y").exists()
    assert not list(folder.glob(".y.build-*"))


def test_without_the_option_a_classifier_misfit_suggests_it(
        torchvision18: tuple[torch.nn.Module, Path], spec10: Path) -> None:
    with pytest.raises(WeightsError, match=r"only fc differs \(the file's has 1000 classes, "
                       r"resnet18_10's has 10\): to fine-tune from this file, add "
                       r"--reinit-head"):
        resnet_spec.build(spec10, weights=torchvision18[1])


def test_other_misfits_keep_the_plain_hint(torchvision18: tuple[torch.nn.Module, Path],
                                           folder: Path) -> None:
    spec = folder / "r34.yaml"
    spec.write_text(TEN_CLASSES.replace("extends: resnet18", "extends: resnet34"))
    with pytest.raises(WeightsError, match="same architecture and number of classes") as err:
        resnet_spec.build(spec, weights=torchvision18[1])
    assert "--reinit-head" not in str(err.value)


def test_the_tensorrt_handoff_exports_the_same_weights(
        torchvision18: tuple[torch.nn.Module, Path], spec10: Path, folder: Path,
        run_cli) -> None:
    from resnet_spec.compiler.targets import tensorrt

    if tensorrt.missing() is None:
        pytest.skip("this machine can build TensorRT engines")
    result = run_cli("export", str(spec10), "--to", "tensorrt", "--weights",
                     str(torchvision18[1]), "--reinit-head", "--seed", "2", "--out",
                     str(folder / "trt"))
    assert result.code == 3
    assert (f"--to onnx --batch 1:8:32 --weights {torchvision18[1]} --reinit-head --seed 2 "
            "--out build/resnet18_10-onnx, then in build/resnet18_10-onnx: trtexec") in result.err


def test_the_classifier_is_read_from_the_ir_not_by_its_name(
        torchvision18: tuple[torch.nn.Module, Path], spec10: Path) -> None:
    """The same network with its classifier under timm's name `head.fc`."""
    graph = resnet_spec.elaborate(spec10)
    timm_named = Graph(graph.name)

    def rename(name: str) -> str:
        return "head.fc" if name == "fc" else name

    for node in graph.nodes():
        timm_named.add(node.model_copy(update={"name": rename(node.name),
                                               "inputs": tuple(map(rename, node.inputs))}))
    assert classifier(timm_named).keys == {"head.fc.weight": (10, 512), "head.fc.bias": (10,)}
    state = {f"head.{k}" if k.startswith("fc.") else k: v
             for k, v in torchvision18[0].state_dict().items()}
    assert misfit_hint(state, timm_named).startswith(
        "only head.fc differs (the file's has 1000 classes")
