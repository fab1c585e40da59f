"""Deployment targets end to end: `export` and `build --to` on three architectures, each file
loaded back in its own runtime at batch 1 and 3, the Triton config read with Triton's own
schema, TensorRT prepared everywhere and refused here with the hand-off, NaN never passing."""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch

import resnet_spec
from resnet_spec.cli import main
from resnet_spec.deploy.options import BatchRange, check_precision, trtexec_command

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
ov = pytest.importorskip("openvino")

SMALL = {
    "resnet18": "extends: resnet18\nname: r18_small\ninput: {height: 64, width: 64}\n"
                "head: {classes: 10}\n",
    "resnext50_32x4d": "extends: resnext50_32x4d\nname: rx50_small\n"
                       "input: {height: 64, width: 64}\nhead: {classes: 10}\n",
    "cifar_resnet20": None,  # 32x32 already; its shortcuts are option A (zero_pad)
}
TARGETS = "pt2,onnx,openvino,triton"


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


@pytest.fixture(scope="module", params=list(SMALL))
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, dict]:
    """One `export --to pt2,onnx,openvino,triton` per architecture (small inputs)."""
    root = tmp_path_factory.mktemp(request.param)
    spec: str | Path = request.param
    if SMALL[request.param] is not None:
        spec = root / f"{request.param}.yaml"
        spec.write_text(SMALL[request.param])
    code, out, err = cli("export", spec, "--to", TARGETS, "--out", root / "out")
    assert code == 0, err
    assert out.startswith("exported ")
    return root / "out", json.loads((root / "out" / "manifest.json").read_text())


def module_of(folder: Path) -> torch.nn.Module:
    """The module the export came from: same spec, same seed (0)."""
    return resnet_spec.build(folder / "spec.resolved.yaml").eval()


def images(batch: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(batch).standard_normal((batch, *shape), dtype=np.float32)


def assert_close_to_module(folder: Path, run) -> None:
    module = module_of(folder)
    graph = resnet_spec.elaborate(folder / "spec.resolved.yaml")
    for batch in (1, 3):
        x = images(batch, tuple(graph.input_shape))
        with torch.no_grad():
            expected = module(torch.from_numpy(x)).numpy()
        got = run(x)
        assert got.shape == expected.shape == (batch, 10)
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(got, expected, atol=1e-4 * scale, rtol=0)


def test_every_file_is_listed_hashed_and_checked(exported: tuple[Path, dict]) -> None:
    folder, manifest = exported
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == {*manifest["files"], "manifest.json"}
    name = manifest["name"]
    # the spec's preprocessing beside the Triton config: the ImageNet built-ins have one
    preprocessing = {f"triton/{name}/preprocessing.json"} if manifest["preprocessing"] else set()
    assert set(manifest["files"]) == {
        "spec.resolved.yaml", "model.pt2", "model.onnx", "openvino/model.xml",
        "openvino/model.bin", f"triton/{name}/config.pbtxt", f"triton/{name}/1/model.onnx",
        *preprocessing}
    assert (manifest["preprocessing"] is None) == (name == "cifar_resnet20")
    assert list(manifest["targets"]) == TARGETS.split(",")
    for target, entry in manifest["targets"].items():
        check = entry["check"]
        assert check["passed"] and check["batches"] == [1, 3], target
        assert check["max_abs_error"] <= check["tolerance"], target
        assert check["top1_agreement"] == 1.0
    assert {"onnx", "onnxruntime", "openvino"} <= set(manifest["versions"])
    assert manifest["batch"] == {"min": 1, "opt": 8, "max": 32}
    assert manifest["targets"]["onnx"]["opset"] == 20


def test_onnx_runs_in_onnxruntime_at_batch_1_and_3(exported: tuple[Path, dict]) -> None:
    folder, manifest = exported
    session = ort.InferenceSession(str(folder / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert session.get_inputs()[0].shape[0] == "batch"
    assert_close_to_module(folder, lambda x: session.run(["logits"], {"images": x})[0])
    dims = "x".join(map(str, resnet_spec.elaborate(folder / "spec.resolved.yaml").input_shape))
    assert manifest["targets"]["onnx"]["trtexec"] == (
        f"trtexec --onnx=model.onnx --minShapes=images:1x{dims} --optShapes=images:8x{dims} "
        f"--maxShapes=images:32x{dims} --saveEngine=model.engine")


def test_openvino_runs_fp32_with_fp32_weights(exported: tuple[Path, dict]) -> None:
    folder, manifest = exported
    entry = manifest["targets"]["openvino"]
    assert entry["device_precision"] == "f32" and entry["weights"] == "fp32"
    params = sum(p.numel() for p in module_of(folder).parameters())
    # 4 bytes a weight (OpenVINO folds the norms away, so a little under 4 x params); an
    # fp16-compressed file would hold 2
    assert (folder / "openvino/model.bin").stat().st_size > 3.5 * params
    compiled = ov.Core().compile_model(str(folder / "openvino/model.xml"), "CPU",
                                       {"INFERENCE_PRECISION_HINT": "f32"})
    assert_close_to_module(folder, lambda x: compiled({"images": x})[compiled.output("logits")])


def test_triton_config_is_what_model_onnx_is(exported: tuple[Path, dict]) -> None:
    """config.pbtxt read with Triton's own schema, every field against model.onnx."""
    text_format = pytest.importorskip("google.protobuf.text_format")
    model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
    folder, manifest = exported
    name = manifest["name"]
    config = text_format.Parse((folder / f"triton/{name}/config.pbtxt").read_text(),
                               model_config_pb2.ModelConfig())
    model = onnx.load(str(folder / f"triton/{name}/1/model.onnx"))
    assert config.name == name and config.platform == "onnxruntime_onnx"
    assert config.max_batch_size == 32
    assert list(config.dynamic_batching.preferred_batch_size) == [8, 32]

    def signature(values) -> list[tuple[str, str, list[int]]]:
        out = []
        for v in values:
            t = v.type.tensor_type
            dims = [d.dim_value for d in t.shape.dim]
            assert t.shape.dim[0].dim_param == "batch"
            out.append((v.name, f"TYPE_{onnx.TensorProto.DataType.Name(t.elem_type)}",
                        dims[1:]))
        return [(n, "TYPE_FP32" if d == "TYPE_FLOAT" else d, s) for n, d, s in out]

    def configured(tensors) -> list[tuple[str, str, list[int]]]:
        return [(t.name, model_config_pb2.DataType.Name(t.data_type), list(t.dims))
                for t in tensors]

    assert configured(config.input) == signature(model.graph.input)
    assert configured(config.output) == signature(model.graph.output)
    assert manifest["targets"]["triton"]["config_parsed_with"].startswith("tritonclient")
    same = folder / f"triton/{name}/1/model.onnx"
    assert same.read_bytes() == (folder / "model.onnx").read_bytes()


def test_pt2_target_runs_at_batch_1_and_3(exported: tuple[Path, dict]) -> None:
    folder, _ = exported
    program = torch.export.load(str(folder / "model.pt2")).module()
    with torch.no_grad():
        assert_close_to_module(folder, lambda x: program(torch.from_numpy(x)).numpy())


def test_openvino_bf16_is_reported_not_judged(tmp_path: Path) -> None:
    code, _, err = cli("export", "cifar_resnet20", "--to", "openvino", "--precision", "bf16",
                       "--out", tmp_path / "out")
    assert code == 0, err
    entry = json.loads((tmp_path / "out/manifest.json").read_text())["targets"]["openvino"]
    assert entry["precision"] == "bf16" and entry["compile_config"] == {
        "INFERENCE_PRECISION_HINT": "bf16", "PERFORMANCE_HINT": "LATENCY"}
    assert entry["device_precision"] in ("bf16", "f32")  # what this CPU really ran
    check = entry["check"]
    assert check["tolerance"] is None and check["images"] >= 15
    assert 0.0 <= check["top1_agreement"] <= 1.0 and check["max_abs_error"] > 0


def test_build_to_adds_target_steps_and_keeps_the_build_files(tmp_path: Path) -> None:
    from resnet_spec.pipeline.run import STEPS

    code, _, err = cli("build", "cifar_resnet20", "--to", "triton,onnx", "--batch", "2:4:16",
                       "--out", tmp_path / "out")
    assert code == 0, err
    steps = [line.split()[1] for line in err.splitlines()
             if line.startswith("[") and not line.endswith("...")]  # a step's own parts
    assert steps == [*STEPS[:-1], "onnx", "triton", "write"]
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert {"model.safetensors", "model.pt2", "graph.json", "model.onnx"} <= set(
        manifest["files"])
    assert manifest["targets"]["onnx"]["check"]["batches"] == [2, 3]
    config = (tmp_path / "out/triton/cifar_resnet20/config.pbtxt").read_text()
    assert "max_batch_size: 16" in config and "preferred_batch_size: [ 4, 16 ]" in config
    assert "--minShapes=images:2x3x32x32" in manifest["targets"]["onnx"]["trtexec"]


def test_tensorrt_here_exits_3_with_the_handoff_and_writes_nothing(tmp_path: Path) -> None:
    from resnet_spec.compiler.targets import tensorrt

    if tensorrt.missing() is None:
        pytest.skip("this machine can build TensorRT engines")
    code, out, err = cli("export", "resnet50", "--to", "tensorrt", "--precision", "fp16",
                         "--out", tmp_path / "out")
    assert code == 3 and not out
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "torch-tensorrt" in err or "CUDA" in err
    assert "modelopt.onnx.autocast" in err and "--minShapes=images:1x3x224x224" in err
    assert list(tmp_path.iterdir()) == []


def test_tensorrt_plan_needs_neither_cuda_nor_the_package() -> None:
    from resnet_spec.compiler.targets.tensorrt import EP_FILE, plan

    half = plan((3, 224, 224), BatchRange(1, 8, 32), "fp16")
    assert (half.min_shape, half.opt_shape, half.max_shape) == (
        (1, 3, 224, 224), (8, 3, 224, 224), (32, 3, 224, 224))
    assert half.input_name == "images" and half.dtype == "float32"
    assert half.settings["enable_autocast"] is True
    assert half.settings["autocast_low_precision_type"] == "float16"
    assert "enabled_precisions" not in half.settings  # gone from 2.14's dynamo compile
    assert half.files == (EP_FILE, "model.engine") == ("model.trt.ep", "model.engine")
    full = plan((3, 32, 32), BatchRange.parse("4"), "fp32")
    assert full.min_shape == full.max_shape == (4, 3, 32, 32)
    assert "enable_autocast" not in full.settings
    with pytest.raises(ValueError, match="fp32 or fp16"):
        plan((3, 32, 32), BatchRange(), "bf16")


def test_tensorrt_engine_on_a_gpu(tmp_path: Path) -> None:
    from resnet_spec.compiler.targets import tensorrt

    reason = tensorrt.missing()
    if reason is not None:
        pytest.skip(f"no real engine here: {reason}")
    code, _, err = cli("export", "cifar_resnet20", "--to", "tensorrt,triton", "--out",
                       tmp_path / "out")
    assert code == 0, err
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert manifest["targets"]["tensorrt"]["check"]["passed"]
    assert manifest["targets"]["triton"]["backend"] == "tensorrt"
    assert (tmp_path / "out/triton/cifar_resnet20/1/model.plan").stat().st_size > 0


@pytest.mark.parametrize(("args", "words"), [
    (["--to", "tflite"], "unknown target 'tflite'"),
    (["--to", "onnx", "--precision", "bf16"], "applies to openvino"),
    (["--to", "tensorrt", "--precision", "bf16"], "fp32, fp16"),
    (["--to", "onnx", "--batch", "8:1:32"], "MIN <= OPT <= MAX"),
    (["--to", "onnx", "--batch", "big"], "MIN:OPT:MAX"),
    (["--to", "triton", "--triton-backend", "tensorrt"], "add tensorrt to --to"),
])
def test_bad_options_are_usage_errors(args: list[str], words: str, tmp_path: Path) -> None:
    code, _, err = cli("export", "cifar_resnet20", *args, "--out", tmp_path / "out")
    assert code == 2 and words in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_precision_and_batch_rules() -> None:
    check_precision(("onnx", "openvino"), "bf16")  # onnx stays fp32 beside it
    check_precision(("pt2",), "fp32")
    assert BatchRange.parse("1:8:32").check_batches() == (1, 3)
    assert BatchRange.parse("5:5:5").check_batches() == (5,)
    assert BatchRange.parse("1:1:2").check_batches() == (1, 2)
    assert str(BatchRange()) == "1:8:32"
    assert "--fp16" not in trtexec_command((3, 8, 8), BatchRange(), "fp16")  # TensorRT 11


def test_nan_where_the_module_is_finite_fails_every_check(tmp_path: Path) -> None:
    from resnet_spec.compiler.export import ExportError, export_pt2, verify_pt2
    from resnet_spec.compiler.targets import Job
    from resnet_spec.compiler.targets.check import check

    graph = resnet_spec.elaborate("cifar_resnet20")
    module = resnet_spec.build(graph).eval()
    with torch.no_grad():
        module.get_submodule("fc").bias[3] = float("nan")
    # a file that computes what its module computes is kept, NaN included (issue 21)
    export_pt2(module, graph, tmp_path / "m.pt2")
    with pytest.raises(ExportError, match="NaN or inf where the module's output is finite"):
        verify_pt2(resnet_spec.build(graph).eval(), graph, tmp_path / "m.pt2")
    job = Job(graph, resnet_spec.build(graph).eval(), None, tmp_path, precision="bf16")

    def nan_run(x: np.ndarray) -> dict[str, np.ndarray]:
        return {"logits": np.full((x.shape[0], 10), np.nan, dtype=np.float32)}

    with pytest.raises(ExportError, match="NaN or inf"):
        check(job, "model.x", nan_run, "test")  # even reduced precision, never judged else


BACKBONE = ("extends: resnet18\nname: bb18\ninput: {height: 64, width: 64}\nhead: none\n"
            "features: [0, 2, 3, 4]\n")


def test_a_backbone_exports_each_feature_map_under_its_name(tmp_path: Path) -> None:
    """`head: none` + `features`: the module returns a dict; every target names its outputs
    by the dict's keys, in the graph's order, and each map equals the module's."""
    text_format = pytest.importorskip("google.protobuf.text_format")
    model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
    spec = tmp_path / "bb18.yaml"
    spec.write_text(BACKBONE)
    code, _, err = cli("export", spec, "--to", "onnx,openvino,triton", "--out", tmp_path / "out")
    assert code == 0, err
    folder = tmp_path / "out"
    names = ["stem", "stage2", "stage3", "stage4"]
    session = ort.InferenceSession(str(folder / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == names
    compiled = ov.Core().compile_model(str(folder / "openvino/model.xml"), "CPU",
                                       {"INFERENCE_PRECISION_HINT": "f32"})
    config = text_format.Parse((folder / "triton/bb18/config.pbtxt").read_text(),
                               model_config_pb2.ModelConfig())
    assert [o.name for o in config.output] == names
    module = module_of(folder)
    for batch in (1, 3):
        x = images(batch, (3, 64, 64))
        with torch.no_grad():
            expected = {k: v.numpy() for k, v in module(torch.from_numpy(x)).items()}
        by_onnx = dict(zip(names, session.run(names, {"images": x}), strict=True))
        result = compiled({"images": x})
        by_openvino = {name: result[compiled.output(name)] for name in names}
        for got in (by_onnx, by_openvino):
            for name in names:
                scale = max(1.0, float(np.abs(expected[name]).max()))
                np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=1e-4 * scale)
