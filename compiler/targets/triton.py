"""`triton`: a Triton Inference Server model repository, `triton/<name>/`.

    triton/<name>/config.pbtxt
    triton/<name>/1/model.onnx        onnxruntime backend (the default)
    triton/<name>/1/model.plan        tensorrt_plan, when this build made the TensorRT engine
    triton/<name>/1/model.xml, .bin   openvino backend, when `--triton-backend openvino`
    triton/<name>/preprocessing.json  the spec's preprocessing, when it says one

`max_batch_size` is the top of `--batch`, dynamic batching prefers its OPT and MAX, and the
input and output names, types and dims are exactly those of the packaged file. The packaged
file is loaded in its own runtime and compared with the module, as its own target would be.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from resnet_spec.compiler.export import ExportError
from resnet_spec.compiler.targets.check import output_names
from resnet_spec.compiler.targets.job import Job
from resnet_spec.deploy.options import INPUT_NAME, BatchRange

PREPROCESSING = "preprocessing.json"
"""Beside config.pbtxt: the spec's preprocessing, what a client must do to an image (Triton
reads only config.pbtxt and the version folders, and ignores this file)."""
QUEUE_DELAY_US = 100
"""How long Triton may hold a request to batch it with others."""


@dataclass(frozen=True)
class Tensor:
    name: str
    data_type: str
    dims: tuple[int, ...]
    """Without the batch dimension (Triton adds it when max_batch_size > 0)."""


@dataclass(frozen=True)
class ModelConfig:
    """The fields of config.pbtxt this target writes."""

    name: str
    backend: str
    max_batch_size: int
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    preferred_batch_sizes: tuple[int, ...]
    parameters: tuple[tuple[str, str], ...] = ()


PLATFORMS = {"onnxruntime": ("platform", "onnxruntime_onnx"),
             "tensorrt": ("platform", "tensorrt_plan"),
             "openvino": ("backend", "openvino")}


def missing() -> str | None:
    return None


def model_config(job: Job, backend: str, names: tuple[list[str], list[str]] | None = None
                 ) -> ModelConfig:
    """The config of the job's model served by `backend`; `names` overrides the input and
    output names (an engine's own)."""
    inputs, outputs = names or ([INPUT_NAME], output_names(job.graph))
    shapes = [job.graph.node(job.graph.outputs[n]).shape for n in output_names(job.graph)]
    parameters = openvino_parameters(job.precision) if backend == "openvino" else ()
    return ModelConfig(
        name=job.name, backend=backend, max_batch_size=job.batch.max,
        inputs=(Tensor(inputs[0], "TYPE_FP32", job.input_dims),),
        outputs=tuple(Tensor(n, "TYPE_FP32", tuple(s)) for n, s in zip(outputs, shapes,
                                                                       strict=True)),
        preferred_batch_sizes=preferred(job.batch), parameters=parameters)


OPENVINO_SOURCE = ("triton-inference-server/openvino_backend, src/openvino.cc "
                   "(ModelState::ParseParameters)")
"""Where the OpenVINO backend's parameter keys were read. Per device it reads only
INFERENCE_NUM_THREADS, COMPILATION_NUM_THREADS, HINT_BF16, NUM_STREAMS and PERFORMANCE_HINT
(any other key, INFERENCE_PRECISION_HINT among them, is never looked up); HINT_BF16 takes only
YES, which sets the CPU plugin's inference precision to bf16. No key asks for f32 or f16: the
precision is then the plugin's default, bf16 on CPUs that have it (AMX, AVX-512 BF16)."""


def openvino_parameters(precision: str) -> tuple[tuple[str, str], ...]:
    """The parameters the OpenVINO backend reads (`OPENVINO_SOURCE`) for `precision`: the
    latency hint every check of the file used, and HINT_BF16 for bf16."""
    parameters = (("PERFORMANCE_HINT", "LATENCY"),)
    return (*parameters, ("HINT_BF16", "YES")) if precision == "bf16" else parameters


def preferred(batch: BatchRange) -> tuple[int, ...]:
    return tuple(sorted({batch.opt, batch.max}))


def config_text(config: ModelConfig) -> str:
    """config.pbtxt in protobuf text format."""
    key, value = PLATFORMS[config.backend]
    lines = [f'name: "{config.name}"', f'{key}: "{value}"',
             f"max_batch_size: {config.max_batch_size}"]
    lines += _tensors("input", config.inputs) + _tensors("output", config.outputs)
    lines += ["dynamic_batching {",
              f"  preferred_batch_size: [ {', '.join(map(str, config.preferred_batch_sizes))} ]",
              f"  max_queue_delay_microseconds: {QUEUE_DELAY_US}", "}"]
    if config.backend == "openvino":
        lines += ["instance_group [ { kind: KIND_CPU count: 1 } ]"]
    for name, text in config.parameters:
        lines += ["parameters {", f'  key: "{name}"', f'  value: {{ string_value: "{text}" }}',
                  "}"]
    return "\n".join(lines) + "\n"


def _tensors(kind: str, tensors: tuple[Tensor, ...]) -> list[str]:
    lines = [f"{kind} ["]
    for i, t in enumerate(tensors):
        lines += ["  {", f'    name: "{t.name}"', f"    data_type: {t.data_type}",
                  f"    dims: [ {', '.join(map(str, t.dims))} ]",
                  "  }" + ("," if i < len(tensors) - 1 else "")]
    return [*lines, "]"]


def choose_backend(job: Job) -> str:
    """`--triton-backend`, where `auto` is tensorrt when this build made the engine, else
    onnxruntime."""
    if job.triton_backend != "auto":
        return job.triton_backend
    return "tensorrt" if job.made.engine is not None else "onnxruntime"


def build(job: Job) -> dict[str, Any]:
    """Package the backend's model file and its config; check the file in its runtime."""
    backend = choose_backend(job)
    root = f"triton/{job.name}"
    files, result, names = _PACKAGERS[backend](job, f"{root}/1")
    config = model_config(job, backend, names)
    job.write(f"{root}/config.pbtxt", config_text(config).encode())
    parsed_with = verify_config(job.folder / root / "config.pbtxt", config)
    if job.preprocessing is not None:
        job.write(f"{root}/{PREPROCESSING}",
                  (json.dumps(job.preprocessing, indent=2) + "\n").encode())
        files.append(f"{root}/{PREPROCESSING}")
    entry = {"files": [f"{root}/config.pbtxt", *files], "backend": backend,
             "precision": result.get("precision", "fp32"), "max_batch_size": job.batch.max,
             "preferred_batch_sizes": list(config.preferred_batch_sizes),
             "config_parsed_with": parsed_with, "check": result}
    if backend == "openvino":
        entry["parameters"] = dict(config.parameters)
        if job.precision == "fp32":
            job.note("triton: the OpenVINO backend reads no f32 setting (HINT_BF16 is its "
                     "only precision key), so on a CPU with bf16 it runs the layers in bf16")
    return entry


def _package_onnx(job: Job, version: str) -> tuple[list[str], dict[str, Any], None]:
    from resnet_spec.compiler.targets import onnx

    relative = f"{version}/model.onnx"
    made = job.made.onnx_file
    if made is not None:  # the same bytes, checked by the onnx target already
        _link(made.path, job.folder / relative)
        return [relative], made.check, None
    path = job.write(relative, onnx.deployed_bytes(job))
    return [relative], onnx.check_file(job, relative, path), None


def _package_openvino(job: Job, version: str) -> tuple[list[str], dict[str, Any], None]:
    from resnet_spec.compiler.targets import openvino

    relative = [f"{version}/model.xml", f"{version}/model.bin"]
    made = job.made.openvino_xml
    if made is not None:
        _link(made, job.folder / relative[0])
        _link(made.with_suffix(".bin"), job.folder / relative[1])
    else:
        sub = dataclasses.replace(job, folder=job.folder / version)
        job.progress("converting to OpenVINO")
        xml = openvino.save(openvino.convert(sub), sub)
        os.replace(xml, job.folder / relative[0])
        os.replace(xml.with_suffix(".bin"), job.folder / relative[1])
        xml.parent.rmdir()
    job.progress("compiling for the CPU")
    _, run = openvino.runner(job.folder / relative[0], job)
    return relative, openvino.check_file(job, relative[0], run), None


def _package_plan(job: Job, version: str) -> tuple[list[str], dict[str, Any], Any]:
    engine = job.made.engine
    if engine is None:
        raise ExportError("--triton-backend tensorrt packages the engine of this build: "
                          "add tensorrt to --to")
    relative = f"{version}/model.plan"
    _link(engine.path, job.folder / relative)
    return [relative], engine.check, (engine.io["inputs"], engine.io["outputs"])


_PACKAGERS = {"onnxruntime": _package_onnx, "openvino": _package_openvino,
              "tensorrt": _package_plan}


def _link(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` (same folder tree: no second copy on disk), or a
    copy where links are not allowed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        from resnet_spec.pipeline.outdir import write_file

        write_file(target, source.read_bytes())


def verify_config(path: Path, config: ModelConfig) -> str | None:
    """Parse config.pbtxt with Triton's own schema (tritonclient's `model_config_pb2`) where
    it is installed and compare it with `config`; the parser's version, or None without it."""
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2
    except ImportError:
        return None
    parsed = text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
    got = [(t.name, model_config_pb2.DataType.Name(t.data_type), tuple(t.dims))
           for t in [*parsed.input, *parsed.output]]
    want = [(t.name, t.data_type, t.dims) for t in [*config.inputs, *config.outputs]]
    if got != want or parsed.max_batch_size != config.max_batch_size:
        raise ExportError(f"{path.name}: Triton reads it differently from what was meant")
    return f"tritonclient {metadata.version('tritonclient')}"
