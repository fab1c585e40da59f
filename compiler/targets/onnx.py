"""`onnx`: `model.onnx` from the exported program, batch dynamic, checked with onnxruntime.

`torch.onnx.export` takes the `ExportedProgram` as it is (no second trace). The batch dimension
is named `batch`; the opset is fixed here and recorded. The manifest entry also records the
`trtexec` command that builds a TensorRT engine from this file on a GPU machine.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from resnet_spec.compiler.export import ExportError
from resnet_spec.compiler.targets.check import check, output_names
from resnet_spec.compiler.targets.job import Job
from resnet_spec.deploy import INPUT_NAME, ONNX_FILE, trtexec_command

OPSET = 20
"""ONNX opset of the file: what torch's exporter writes by default, and what onnxruntime,
OpenVINO and TensorRT 10+ read."""
MAX_BYTES = (2 << 30) - (64 << 20)
"""protobuf's 2 GB message limit: a larger file cannot be read back."""


def missing() -> str | None:
    for package in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(package)
        except ImportError:
            return (f"--to onnx needs {package}, which is not installed: "
                    "pip install onnx onnxscript onnxruntime")
    return None


def onnx_bytes(job: Job) -> bytes:
    """The ONNX file of the job's program (made once per build, reused by triton)."""
    if "onnx" not in job.made:
        job.made["onnx"] = _export(job)
    return job.made["onnx"]


def _export(job: Job) -> bytes:
    import torch

    job.progress("converting to ONNX")
    # the exporter prints its progress on stdout; the build's own lines say enough
    with contextlib.redirect_stdout(io.StringIO()):
        exported = torch.onnx.export(
            job.converter_program, (), dynamo=True, input_names=[INPUT_NAME],
            output_names=output_names(job.graph), opset_version=OPSET, verbose=False,
        )
    proto = exported.model_proto
    _name_batch_dims(proto)
    job.made["onnx_opset"] = next(o.version for o in proto.opset_import
                                  if o.domain in ("", "ai.onnx"))
    try:
        data = proto.SerializeToString()
    except ValueError as err:  # protobuf refuses messages over 2 GB
        raise ExportError(f"{job.name}: the ONNX file would exceed protobuf's 2 GB limit: "
                          f"{err}", hint="export --to pt2 or openvino") from None
    if len(data) > MAX_BYTES:
        raise ExportError(f"{job.name}: the ONNX file would exceed protobuf's 2 GB limit "
                          f"({len(data):,} bytes)", hint="export --to pt2 or openvino")
    return data


def _name_batch_dims(proto: Any) -> None:
    """Call the dynamic first dimension of every input and output `batch`, and the input's
    dynamic height and width (`--image-size`) `height` and `width` (the exporter names them
    after internal symbols such as `s77`; an output map's are expressions of these)."""
    for value in [*proto.graph.input, *proto.graph.output]:
        dim = value.type.tensor_type.shape.dim[0]
        if dim.HasField("dim_param") or not dim.HasField("dim_value"):
            dim.dim_param = "batch"
    for dim, name in zip(proto.graph.input[0].type.tensor_type.shape.dim[2:],
                         ("height", "width"), strict=False):
        if not dim.HasField("dim_value"):
            dim.dim_param = name


def session(path: Path, threads: int | None = None) -> Any:
    """An onnxruntime CPU session of `path` with every graph optimization on (conv + norm +
    activation fused, NCHWc layout). With `threads`, that many intra-op threads, one inter-op
    thread, and no spinning: measured on a shared 2-core machine, a worker spinning between
    ops takes the core the other thread needs (batch 8 about 10% slower, batch 1 the same)."""
    import onnxruntime as ort

    from resnet_spec.compiler.telemetry import quiet_onnxruntime

    quiet_onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def runner(path: Path, graph: Any) -> Any:
    """The file loaded in onnxruntime as a check runner; ExportError if it does not load or
    its inputs and outputs are not the model's."""
    try:
        sess = session(path)
    except Exception as err:  # any failure to load means the file is unusable
        raise ExportError(f"{path.name}: onnxruntime cannot load it: {err}") from err
    names = [o.name for o in sess.get_outputs()]
    if [i.name for i in sess.get_inputs()] != [INPUT_NAME] or names != output_names(graph):
        raise ExportError(f"{path.name}: inputs/outputs are not {INPUT_NAME} -> "
                          f"{', '.join(output_names(graph))}")

    def run(x: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(names, sess.run(None, {INPUT_NAME: x}), strict=True))

    return run


def runtime_version() -> str:
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__}"


def build(job: Job) -> dict[str, Any]:
    """Write `model.onnx`, run it in onnxruntime at two batches against the module."""
    data = onnx_bytes(job)
    path = job.write(ONNX_FILE, data)
    job.made["onnx_path"] = path
    job.progress(f"loading {ONNX_FILE} in onnxruntime")
    result = check(job, ONNX_FILE, runner(path, job.graph), runtime_version(), "fp32")
    job.made["onnx_check"] = result.as_json()
    return {
        "files": [ONNX_FILE],
        "precision": "fp32",
        "opset": job.made["onnx_opset"],
        "input": INPUT_NAME,
        "outputs": output_names(job.graph),
        "check": result.as_json(),
        "trtexec": trtexec_command(job.input_dims, job.batch, _trt_precision(job.precision),
                                   sizes=(job.image_size.min, job.image_size.max)
                                   if job.image_size else None),
    }


def _trt_precision(precision: str) -> str:
    return "fp16" if precision == "fp16" else "fp32"
