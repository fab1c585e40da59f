"""int8 deployment: `--precision int8` with `--calibration`, the held-out judgement, the
preprocessing recorded with the files, and Triton's OpenVINO backend parameters."""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from resnet_spec.cli import main
from resnet_spec.deploy.options import OptionError, check_precision, check_triton_precision

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
ov = pytest.importorskip("openvino")
pytest.importorskip("nncf")

SPEC = "cifar_resnet20"
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
PREPROCESS = f"preprocess={{mean: {IMAGENET_MEAN}, std: {IMAGENET_STD}, resize: 36, crop: 32}}"


def cli(*args: str | os.PathLike[str]) -> tuple[int, str, str]:
    """`resnet-spec ARGS` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([os.fspath(a) for a in args])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def samples(path: Path, count: int = 20, scale: float = 1.0) -> Path:
    rng = np.random.default_rng(7)
    np.save(path, (rng.standard_normal((count, 3, 32, 32)) * scale).astype(np.float32))
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One int8 export to onnx, openvino and triton (openvino backend), calibrated on arrays."""
    root = tmp_path_factory.mktemp("int8")
    code, _, err = cli("export", SPEC, "--to", "onnx,openvino,triton", "--precision", "int8",
                       "--triton-backend", "openvino",
                       "--calibration", samples(root / "cal.npy"), "--min-agreement", "0",
                       "--set", PREPROCESS, "--out", root / "out")
    assert code == 0, err
    return root / "out", json.loads((root / "out/manifest.json").read_text())


def test_int8_files_are_judged_on_held_out_samples(exported: tuple[Path, dict]) -> None:
    _, manifest = exported
    assert manifest["precision"] == "int8"
    assert manifest["calibration"] == {"source": manifest["calibration"]["source"],
                                       "kind": "arrays", "samples": 20, "calibrated_on": 16,
                                       "held_out": 4, "min_agreement": 0.0}
    for name in ("onnx", "openvino", "triton"):
        entry = manifest["targets"][name]
        check = entry["check"]
        assert entry["precision"] == check["precision"] == "int8"
        assert check["judged_on"] == "held-out calibration samples" and check["images"] == 4
        assert 0.0 <= check["top1_agreement"] <= 1.0 and check["min_agreement"] == 0.0
        assert 0.0 < check["mean_abs_error"] <= check["max_abs_error"]
        assert "warning" not in check["calibration"]


def test_onnx_int8_is_qdq_with_per_channel_7_bit_weights(exported: tuple[Path, dict]) -> None:
    """QDQ, per-channel weights within half the int8 range: a CPU without VNNI (vpmaddubsw
    adds two u8 x s8 products into an int16) cannot saturate."""
    from onnx import numpy_helper

    folder, manifest = exported
    model = onnx.load(str(folder / "model.onnx"))
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    quantized = [w for w in weights.values() if w.dtype == np.int8 and w.ndim == 4]
    assert quantized and all(w.min() >= -64 and w.max() <= 64 for w in quantized)
    per_channel = [n for n in model.graph.node if n.op_type == "DequantizeLinear"
                   and n.input[0] in weights and weights[n.input[0]].ndim == 4]
    assert all(weights[n.input[1]].size == weights[n.input[0]].shape[0] for n in per_channel)
    assert manifest["targets"]["onnx"]["check"]["quantization"]["reduce_range"] is True
    assert manifest["targets"]["onnx"]["trtexec"] is None


def test_openvino_int8_is_quantized_and_runs_the_rest_at_f32(
        exported: tuple[Path, dict]) -> None:
    folder, manifest = exported
    model = ov.Core().read_model(str(folder / "openvino/model.xml"))
    assert "FakeQuantize" in {op.get_type_name() for op in model.get_ops()}
    entry = manifest["targets"]["openvino"]
    assert entry["weights"] == "int8" and entry["device_precision"] == "f32"
    assert entry["check"]["quantization"]["overflow_fix"] == "enable"
    recorded = model.get_rt_info(["resnet_spec", "preprocessing"])
    assert json.loads(recorded.astype(str)) == manifest["preprocessing"]


def test_preprocessing_is_recorded_with_every_file(exported: tuple[Path, dict]) -> None:
    folder, manifest = exported
    recorded = manifest["preprocessing"]
    assert recorded["mean"] == IMAGENET_MEAN and recorded["std"] == IMAGENET_STD
    assert recorded["resize_shorter_side"] == 36 and recorded["center_crop"] == [32, 32]
    metadata = {p.key: p.value for p in onnx.load(str(folder / "model.onnx")).metadata_props}
    assert json.loads(metadata["preprocessing"]) == recorded
    triton = json.loads((folder / f"triton/{SPEC}/preprocessing.json").read_text())
    assert triton == recorded
    assert f"triton/{SPEC}/preprocessing.json" in manifest["files"]


def test_below_min_agreement_fails_and_writes_nothing(tmp_path: Path) -> None:
    """Calibrated on tiny values, judged on ordinary ones: the clipped activations move the
    top-1 class, the build fails with exit 1 and leaves no folder."""
    data = samples(tmp_path / "cal.npy", 20)
    arrays = np.load(data)
    keep = np.arange(len(arrays)) % 5 != 4  # the calibration split: not the held-out fifth
    arrays[keep] *= 1e-3
    np.save(data, arrays)
    code, out, err = cli("export", SPEC, "--to", "onnx", "--precision", "int8",
                         "--calibration", data, "--min-agreement", "1", "--out",
                         tmp_path / "out")
    assert code == 1 and not out and "Traceback" not in err, err
    assert "held-out calibration samples, below --min-agreement 1" in err
    assert not (tmp_path / "out").exists()


def test_random_calibration_warns_and_is_not_judged(tmp_path: Path) -> None:
    """Also Triton's onnxruntime backend at int8, quantizing without an onnx target."""
    code, _, err = cli("export", SPEC, "--to", "triton", "--precision", "int8", "--calibration",
                       "random", "--min-agreement", "1", "--out", tmp_path / "out")
    assert code == 0, err
    assert "WARNING: --calibration random" in err
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert "speed tests only" in manifest["calibration"]["warning"]
    assert any("speed tests only" in note for note in manifest["notes"])
    entry = manifest["targets"]["triton"]
    assert entry["backend"] == "onnxruntime" and entry["precision"] == "int8"
    assert entry["check"]["min_agreement"] is None
    model = onnx.load(str(tmp_path / f"out/triton/{SPEC}/1/model.onnx"))
    assert "QuantizeLinear" in {node.op_type for node in model.graph.node}


def test_int8_files_with_dynamic_image_size_run_at_a_second_size(tmp_path: Path) -> None:
    """The held-out samples have the spec's size; the files also run at another, held to the
    module's output shapes there."""
    code, _, err = cli("export", SPEC, "--to", "onnx,openvino", "--precision", "int8",
                       "--calibration", "random", "--image-size", "16:64",
                       "--out", tmp_path / "out")
    assert code == 0, err
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    for name in ("onnx", "openvino"):
        check = manifest["targets"][name]["check"]
        assert check["precision"] == "int8"
        assert check["other_sizes"] and check["other_sizes"][0] != [32, 32]
    session = ort.InferenceSession(str(tmp_path / "out/model.onnx"))
    logits, = session.run(None, {"images": np.zeros((2, 3, 48, 24), np.float32)})
    assert logits.shape == (2, 10)


@pytest.mark.parametrize(("args", "words"), [
    (["--to", "onnx", "--precision", "int8"], "needs --calibration PATH"),
    (["--to", "onnx", "--calibration", "random"], "only --precision int8 calibrates"),
    (["--to", "tensorrt", "--precision", "int8", "--calibration", "random"], "fp32, fp16"),
    (["--to", "pt2", "--precision", "int8", "--calibration", "random"], "applies to onnx"),
    (["--to", "triton", "--triton-backend", "openvino", "--precision", "fp16"],
     "--triton-backend openvino takes --precision fp32, bf16, int8"),
    (["--to", "onnx", "--precision", "int8", "--calibration", "random", "--min-agreement",
      "2"], "--min-agreement"),
])
def test_bad_int8_options_are_usage_errors(args: list[str], words: str, tmp_path: Path) -> None:
    code, _, err = cli("export", SPEC, *args, "--out", tmp_path / "out")
    assert code == 2 and words in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


def test_bad_calibration_data_is_a_located_error(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((4, 3, 16, 16), np.float32))
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken/a.png").write_bytes(b"not a png")
    cases = {
        wrong: "wrong.npy: the arrays are 4×3×16×16, the model takes N×3×32×32",
        tmp_path / "none.npy": "none.npy: no such file or folder",
        empty: "holds no .jpg, .jpeg or .png files",
        tmp_path / "broken": "a.png: cannot identify image file",
    }
    for path, words in cases.items():
        code, _, err = cli("export", SPEC, "--to", "onnx", "--precision", "int8",
                           "--calibration", path, "--set", PREPROCESS, "--out",
                           tmp_path / "out")
        assert code == 1 and err.startswith("--calibration ") and words in err, err
        assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_images_without_preprocess_in_the_spec_are_refused(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (40, 40)).save(tmp_path / "a.png")
    code, _, err = cli("export", SPEC, "--to", "onnx", "--precision", "int8",
                       "--calibration", tmp_path, "--out", tmp_path / "out")
    assert code == 1 and "says no preprocess mean and std" in err, err


def test_image_preprocessing_is_torchvisions(tmp_path: Path) -> None:
    """Resize (shorter side), CenterCrop, ToTensor, Normalize, as torchvision computes them;
    a folder of images calibrates an export."""
    from PIL import Image

    from resnet_spec.deploy.calibration import load_calibration
    from resnet_spec.spec.loader import load

    transforms = pytest.importorskip("torchvision.transforms")
    rng = np.random.default_rng(0)
    sizes = [(45, 37), (37, 60), (36, 36), (50, 41), (64, 39)]
    for i, (w, h) in enumerate(sizes):
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    spec = load(SPEC, [PREPROCESS])
    got = load_calibration(os.fspath(tmp_path), spec).samples
    pipeline = transforms.Compose([transforms.Resize(36), transforms.CenterCrop(32),
                                   transforms.ToTensor(),
                                   transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    for i in range(len(sizes)):
        with Image.open(tmp_path / f"{i}.png") as image:
            want = pipeline(image.convert("RGB")).numpy()
        np.testing.assert_allclose(got[i], want, rtol=0, atol=1e-5)


def test_a_crop_that_is_not_the_input_is_noted(tmp_path: Path) -> None:
    from resnet_spec.deploy.calibration import crop_mismatch, preprocessing
    from resnet_spec.spec.loader import load

    assert crop_mismatch(load("resnet50")) is None
    assert preprocessing(load("resnet50"))["center_crop"] == [224, 224]
    assert preprocessing(load(SPEC)) is None
    small = load("resnet18", ["input.height=64", "input.width=64"])
    assert "224x224 is not the input's 64x64" in crop_mismatch(small)


def test_bench_int8_needs_calibration() -> None:
    code, _, err = cli("bench", SPEC, "--precision", "int8", "--backends", "onnxruntime")
    assert code == 2 and "--precision int8 needs --calibration PATH" in err


def test_bench_times_the_int8_files() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "resnet_spec", "bench", SPEC, "--precision", "int8",
         "--calibration", "random", "--backends", "onnxruntime,openvino", "--batch", "2",
         "--runs", "1", "--warmup", "1", "--threads", "1", "--json"],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "WARNING: --calibration random" in done.stderr
    report = json.loads(done.stdout)
    assert report["precision"] == "int8"
    for name, target in (("onnxruntime", "onnx"), ("openvino", "openvino")):
        assert report["backends"][name]["status"] == "ok", report["backends"][name]
        assert report["checks"][target]["precision"] == "int8"


def test_precision_rules() -> None:
    check_precision(("onnx", "openvino", "triton"), "int8")
    check_precision(("pt2", "onnx"), "int8")  # pt2 stays fp32 beside the int8 onnx file
    check_precision(("onnx", "openvino"), "bf16")  # onnx stays fp32 beside bf16
    for names, precision in ((("tensorrt",), "int8"), (("pt2",), "int8"),
                             (("onnx",), "bf16")):
        with pytest.raises(OptionError):
            check_precision(names, precision)
    check_triton_precision("openvino", "bf16")
    with pytest.raises(OptionError):
        check_triton_precision("openvino", "fp16")


def test_triton_openvino_passes_only_keys_the_backend_reads(
        exported: tuple[Path, dict]) -> None:
    """The OpenVINO backend reads HINT_BF16 (YES) and PERFORMANCE_HINT, never
    INFERENCE_PRECISION_HINT (its src/openvino.cc); the config parses with Triton's schema."""
    from resnet_spec.compiler.targets.triton import (
        ModelConfig,
        Tensor,
        config_text,
        openvino_parameters,
    )

    text_format = pytest.importorskip("google.protobuf.text_format")
    model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
    folder, manifest = exported

    def parameters(text: str) -> dict[str, str]:
        config = text_format.Parse(text, model_config_pb2.ModelConfig())
        assert config.backend == "openvino"
        return {key: value.string_value for key, value in config.parameters.items()}

    written = (folder / f"triton/{SPEC}/config.pbtxt").read_text()
    assert parameters(written) == {"PERFORMANCE_HINT": "LATENCY"}  # int8
    assert manifest["targets"]["triton"]["parameters"] == {"PERFORMANCE_HINT": "LATENCY"}
    assert manifest["targets"]["triton"]["check"]["precision"] == "int8"
    bf16 = ModelConfig("m", "openvino", 8, (Tensor("images", "TYPE_FP32", (3, 8, 8)),),
                       (Tensor("logits", "TYPE_FP32", (10,)),), (8,),
                       openvino_parameters("bf16"))
    assert parameters(config_text(bf16)) == {"HINT_BF16": "YES", "PERFORMANCE_HINT": "LATENCY"}
