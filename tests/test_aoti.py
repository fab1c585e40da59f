"""`--to aoti` and `--image-size` end to end on a tiny network (one AOTInductor compile, shared by
the module): the package loads back and matches the module at batches 1 and 3 and at another
size; ONNX and OpenVINO files take the range too; the options are refused where they do not fit
with one line each; the runtimes leave no telemetry files in the user's home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from resnet_spec.compiler.targets import aoti
from resnet_spec.deploy.image_size import ImageSizes
from resnet_spec.deploy.options import OptionError

TINY = """extends: cifar_resnet20
name: tiny_aoti
shortcut: projection
stem: {width: 4}
stages:
  - {depth: 1, width: 4}
  - {depth: 1, width: 8, stride: 2}
head: {classes: 5}
"""
pytestmark = pytest.mark.slow  # one AOTInductor compile: about 25 s on 2 cores

RANGE = "8:48"
"""Total stride 2 (the second stage), so valid sizes are 4, 6, ... from 2 strides up."""


def run_cli(*args: str | os.PathLike[str], home: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
    """`resnet-spec ARGS` as a process (a fresh interpreter: no runtime imported before the
    tool's own telemetry switches), with HOME moved to `home` when given."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("ORT_DISABLE_TELEMETRY", None)
    if home is not None:
        env["HOME"] = os.fspath(home)
    return subprocess.run([sys.executable, "-m", "resnet_spec", *map(os.fspath, args)],
                          capture_output=True, text=True, env=env, timeout=900, check=False)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path, str]:
    """One `export --to onnx,openvino,aoti --image-size 8:48` of the tiny spec, HOME an empty
    folder: the output folder, its manifest, that home, and stderr."""
    root = tmp_path_factory.mktemp("aoti")
    spec = root / "tiny.yaml"
    spec.write_text(TINY)
    home = root / "home"
    home.mkdir()
    done = run_cli("export", spec, "--to", "onnx,openvino,aoti", "--image-size", RANGE,
                   "--out", root / "out", home=home)
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "out", json.loads((root / "out" / "manifest.json").read_text()), home, \
        done.stderr


def module_of(folder: Path) -> torch.nn.Module:
    import resnet_spec

    return resnet_spec.build(folder / "spec.resolved.yaml").eval()


def images(batch: int, height: int, width: int) -> torch.Tensor:
    rng = np.random.default_rng(batch * 1000 + height)
    return torch.from_numpy(rng.standard_normal((batch, 3, height, width), dtype=np.float32))


def test_the_package_is_in_the_manifest_checked_at_two_batches_and_two_sizes(
        exported: tuple[Path, dict, Path, str]) -> None:
    _, manifest, _, stderr = exported
    entry = manifest["targets"]["aoti"]
    assert entry["files"] == ["model.aoti.pt2"] and "model.aoti.pt2" in manifest["files"]
    assert entry["device"] == "cpu" and entry["inductor_configs"] == {"freezing": True}
    check = entry["check"]
    assert check["passed"] and check["batches"] == [1, 3] and check["other_sizes"] == [[34, 32]]
    assert check["runtime"].startswith(f"torch {torch.__version__.split('+')[0]} AOTInductor")
    assert manifest["image_size"] == {"min": 8, "max": 48, "multiple_of": 2,
                                      "dims": ["height", "width"]}
    assert "[9/10] aoti       compiling with AOTInductor..." in stderr
    assert ("note: --image-size 8:48: the files take 8, 10, ..., 48 (multiples of 2), height "
            "and width each") in stderr


def test_freezing_took_effect_the_convs_are_onednn_calls_with_their_epilogues(
        exported: tuple[Path, dict, Path, str]) -> None:
    """inductor ignores `freezing` unless grad is off: then the package calls plain aten convs.
    Frozen, each conv is a oneDNN call with its ReLU (or its residual add) fused in."""
    import zipfile

    folder, *_ = exported
    with zipfile.ZipFile(folder / "model.aoti.pt2") as package:
        wrapper = next(package.read(name).decode() for name in package.namelist()
                       if name.endswith(".wrapper.cpp"))
    assert "aoti_torch_cpu_mkldnn__convolution_pointwise" in wrapper
    assert "aoti_torch_cpu_convolution(" not in wrapper


def test_the_package_loads_back_and_matches_the_module_at_any_valid_size(
        exported: tuple[Path, dict, Path, str]) -> None:
    folder, *_ = exported
    module = module_of(folder)
    package = torch._inductor.aoti_load_package(str(folder / "model.aoti.pt2"))
    for batch, height, width in ((1, 32, 32), (3, 32, 32), (2, 8, 48), (1, 46, 10)):
        x = images(batch, height, width)
        with torch.no_grad():
            torch.testing.assert_close(package(x), module(x), rtol=1e-4, atol=1e-4)


def test_onnx_and_openvino_take_the_size_range(exported: tuple[Path, dict, Path, str]) -> None:
    ort = pytest.importorskip("onnxruntime")
    ov = pytest.importorskip("openvino")
    folder, manifest, *_ = exported
    module = module_of(folder)
    session = ort.InferenceSession(str(folder / "model.onnx"))
    dims = session.get_inputs()[0].shape
    assert dims == ["batch", 3, "height", "width"]
    trtexec = manifest["targets"]["onnx"]["trtexec"]
    assert ("--minShapes=images:1x3x8x8 --optShapes=images:8x3x32x32 "
            "--maxShapes=images:32x3x48x48") in trtexec
    compiled = ov.Core().compile_model(str(folder / "openvino" / "model.xml"), "CPU",
                                       manifest["targets"]["openvino"]["compile_config"])
    assert str(compiled.inputs[0].get_partial_shape()) == "[?,3,8..48,8..48]"
    for batch, height, width in ((2, 8, 48), (1, 40, 12)):
        x = images(batch, height, width)
        with torch.no_grad():
            want = module(x).numpy()
        got_onnx = session.run(None, {"images": x.numpy()})[0]
        got_ov = compiled({"images": x.numpy()})[compiled.output("logits")]
        np.testing.assert_allclose(got_onnx, want, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got_ov, want, rtol=1e-4, atol=1e-4)


def test_a_fixed_batch_gives_a_static_package_with_prepacked_weights(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    done = run_cli("export", spec, "--to", "aoti", "--batch", "2", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    entry = json.loads((tmp_path / "out" / "manifest.json").read_text())["targets"]["aoti"]
    assert entry["batch"] == 2 and entry["check"]["batches"] == [2]
    assert entry["weights_packed_for_threads"] == torch.get_num_threads()
    package = torch._inductor.aoti_load_package(str(tmp_path / "out" / "model.aoti.pt2"))
    module = module_of(tmp_path / "out")
    x = images(2, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(package(x), module(x), rtol=1e-4, atol=1e-4)


def test_no_runtime_writes_telemetry_into_the_home_folder(
        exported: tuple[Path, dict, Path, str]) -> None:
    """OpenVINO would write ~/intel/openvino_ga_cid and ~/intel/stats, onnxruntime
    ~/.cache/Microsoft/DeveloperTools/.onnxruntime/{deviceid,onnxruntime.db}."""
    _, _, home, _ = exported
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []


def test_the_openvino_switch_is_what_keeps_its_files_away(tmp_path: Path) -> None:
    """The control of the test above: the same import without the switch writes them.

    openvino's telemetry stays silent by itself under CI (`CI=true`, `TF_BUILD`,
    `JENKINS_URL`): those are cleared so the unswitched import acts as on a user's machine."""
    pytest.importorskip("openvino")
    env = {name: value for name, value in os.environ.items()
           if name not in ("CI", "TF_BUILD", "JENKINS_URL")}
    env["HOME"] = os.fspath(tmp_path)
    code = ("from resnet_spec.compiler.telemetry import quiet_openvino\n"
            "import sys\n"
            "if sys.argv[1] == 'quiet': quiet_openvino()\n"
            "import openvino\n")
    for mode, expected in (("quiet", False), ("loud", True)):
        subprocess.run([sys.executable, "-c", code, mode], env=env, check=True, timeout=300)
        assert (tmp_path / "intel").exists() == expected, mode


@pytest.mark.parametrize(("args", "words"), [
    (["--to", "onnx", "--aoti-device", "cuda"], "--aoti-device cuda is for the aoti target"),
    (["--to", "onnx,tensorrt", "--image-size", "64:128"],
     "--image-size applies to pt2, onnx, openvino, aoti; --to tensorrt"),
    (["--to", "onnx", "--image-size", "64"], "expected MIN:MAX in pixels"),
    (["--to", "onnx", "--image-size", "96:64"], "need 1 <= MIN <= MAX"),
])
def test_bad_options_are_usage_errors(args: list[str], words: str) -> None:
    done = run_cli("export", "cifar_resnet20", *args)
    assert done.returncode == 2 and words in done.stderr, done.stderr


def test_sizes_that_are_not_multiples_of_the_stride_are_refused_with_the_valid_ones(
        tmp_path: Path) -> None:
    done = run_cli("export", "resnet18", "--to", "onnx", "--image-size", "100:640",
                   "--out", tmp_path / "out")
    assert done.returncode == 2, done.stderr
    assert ("--image-size 100:640: 100 is not a valid size (resnet18's total stride is 32: "
            "valid sizes are 64, 96, 128, ...; 96 or 128 would be)") in done.stderr
    assert not (tmp_path / "out").exists()


def test_image_sizes_rules() -> None:
    sizes = ImageSizes.parse("64:448").for_graph(32, 224, 224, "resnet50")
    assert sizes.other_size(224, 224) == (256, 224)
    assert ImageSizes.parse("64:224").for_graph(32, 224, 224, "r").other_size(224, 224) \
        == (192, 224)
    assert sizes.valid() == "64, 96, ..., 448 (multiples of 32), height and width each"
    with pytest.raises(OptionError, match="the spec's input 224x224 must lie in the range"):
        ImageSizes.parse("256:448").for_graph(32, 224, 224, "resnet50")
    with pytest.raises(OptionError, match=r"32 is not a valid size .* 64 would be"):
        ImageSizes.parse("32:448").for_graph(32, 224, 224, "resnet50")


def test_cuda_without_a_device_exits_3_before_any_step(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    done = run_cli("export", "cifar_resnet20", "--to", "aoti", "--aoti-device", "cuda",
                   "--out", tmp_path / "out")
    assert done.returncode == 3, done.stderr
    assert "--to aoti --aoti-device cuda needs a CUDA device" in done.stderr
    assert "[1/" not in done.stderr and not (tmp_path / "out").exists()


def test_without_a_cpp_compiler_missing_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aoti.shutil, "which", lambda name: None)
    reason = aoti.missing()
    assert reason is not None and "needs a C++ compiler on PATH" in reason
    assert "c++, g++, clang++" in reason
