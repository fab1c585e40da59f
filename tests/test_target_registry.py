"""The deployment targets' one registration each (`resnet_spec.deploy.targets`): every registration
has its back-end module and every target module its registration; the front end's views (names,
order, precisions, `--image-size`, the manifest's runtimes, the memory estimate's terms) are
derived from them; the build's entry points take options and hooks whole; and what a target
makes for a later one is a typed field of `job.made`."""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

import pytest

from resnet_spec.compiler import targets as backends
from resnet_spec.deploy import options as deploy
from resnet_spec.deploy import targets
from resnet_spec.pipeline import memory as build_memory
from resnet_spec.pipeline.manifest import versions
from resnet_spec.pipeline.options import BuildOptions, Hooks

HELPERS = {"job", "check", "quantize"}
"""The modules of `compiler/targets/` that are not targets."""


@pytest.mark.parametrize("registration", targets.REGISTERED, ids=deploy.TARGETS)
def test_every_registration_has_its_module(registration: targets.Target) -> None:
    module = importlib.import_module(registration.module)
    assert callable(module.missing) and callable(module.build)
    assert backends.target(registration.name) is module


def test_every_target_module_is_registered() -> None:
    modules = {m.name for m in pkgutil.iter_modules(backends.__path__)} - HELPERS
    assert modules == set(deploy.TARGETS)


def test_the_views_are_derived_from_the_registrations() -> None:
    names = tuple(t.name for t in targets.REGISTERED)
    assert deploy.TARGETS == names == ("pt2", "onnx", "openvino", "aoti", "tensorrt", "triton")
    assert len(set(names)) == len(names)
    assert tuple(deploy.PRECISIONS) == names
    assert deploy.PRECISIONS["openvino"] == ("fp32", "bf16", "fp16", "int8")
    assert deploy.DYNAMIC_SIZE_TARGETS == ("pt2", "onnx", "openvino", "aoti")
    assert deploy.STAY_FP32 == ("pt2", "onnx")
    assert all("fp32" in t.precisions for t in targets.REGISTERED)


def test_the_memory_estimate_knows_every_target() -> None:
    # a target missing from the estimate's terms made `export --to aoti` fail with a KeyError
    workload = build_memory.pipeline_workload(deploy.TARGETS, (1, 3), full=False)
    assert workload.runtime > build_memory.RUNTIME_BYTES
    assert set(build_memory.TARGET_COPIES) == set(deploy.TARGETS)


def test_the_manifest_records_the_registered_runtimes() -> None:
    recorded = versions(("onnx",))
    assert {"resnet_spec", "torch", "python"} <= set(recorded)
    assert "onnxruntime" in recorded  # installed with the dev extra
    assert set(versions(("pt2", "aoti"))) == {"resnet_spec", "torch", "python"}


def test_options_and_hooks_come_whole_or_as_keywords(tmp_path: Path) -> None:
    from resnet_spec.pipeline.run import run_export

    steps: list[str] = []
    hooks = Hooks(on_step=lambda i, n, name, s: steps.append(name) if s is None else None)
    result = run_export("cifar_resnet20", ["pt2"], tmp_path / "out",
                        options=BuildOptions(seed=3), hooks=hooks)
    assert steps == ["load", "elaborate", "check", "cost", "compile", "trace", "pt2", "write"]
    manifest = json.loads((result.out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and list(manifest["targets"]) == ["pt2"]
    with pytest.raises(TypeError, match="not both"):
        run_export("cifar_resnet20", ["pt2"], tmp_path / "o2", seed=1,
                   options=BuildOptions(seed=3))
    with pytest.raises(TypeError, match="not both"):
        run_export("cifar_resnet20", ["pt2"], tmp_path / "o2", hooks=hooks,
                   on_note=print)
    assert not (tmp_path / "o2").exists()


def test_build_options_are_frozen() -> None:
    options = BuildOptions()
    with pytest.raises(AttributeError):
        options.seed = 1  # type: ignore[misc]


def test_triton_packages_what_an_earlier_target_made(tmp_path: Path) -> None:
    """Without a GPU: the engine a tensorrt step would have left in `job.made` is what the
    triton target links and describes (its own tensor names, its check)."""
    import resnet_spec
    from resnet_spec.compiler.targets import Job, triton
    from resnet_spec.compiler.targets.job import Engine

    graph = resnet_spec.elaborate("cifar_resnet20")
    job = Job(graph, None, None, tmp_path, triton_backend="auto")
    assert triton.choose_backend(job) == "onnxruntime"
    (tmp_path / "model.engine").write_bytes(b"engine")
    check = {"runtime": "test", "precision": "fp16", "passed": True}
    job.made.engine = Engine(tmp_path / "model.engine",
                             {"inputs": ["images"], "outputs": ["output0"]}, check)
    assert triton.choose_backend(job) == "tensorrt"
    entry = triton.build(job)
    plan = tmp_path / "triton/cifar_resnet20/1/model.plan"
    assert plan.read_bytes() == b"engine"
    assert entry["backend"] == "tensorrt" and entry["check"] is check
    assert entry["precision"] == "fp16"
    config = (tmp_path / "triton/cifar_resnet20/config.pbtxt").read_text()
    assert 'platform: "tensorrt_plan"' in config and 'name: "output0"' in config
