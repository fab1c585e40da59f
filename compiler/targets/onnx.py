"""`onnx`: `model.onnx` from the exported program, batch dynamic, checked with onnxruntime.

`torch.onnx.export` takes the `ExportedProgram` as it is (no second trace). The batch dimension
is named `batch`; the opset is fixed here and recorded. The manifest entry also records the
`trtexec` command that builds a TensorRT engine from this file on a GPU machine. At int8 the
file is the exported one quantized by onnxruntime (`quantize.py`). The spec's preprocessing is
in the file's metadata.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from resnet_spec.compiler.export import ExportError
from resnet_spec.compiler.targets import quantize
from resnet_spec.compiler.targets.check import check, output_names
from resnet_spec.compiler.targets.job import CheckedFile, Job, OnnxExport
from resnet_spec.deploy.options import INPUT_NAME, ONNX_FILE, trtexec_command

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


def exported(job: Job) -> OnnxExport:
    """The ONNX file of the job's program and its opset (made once per build, reused by
    triton)."""
    if job.made.onnx is None:
        job.made.onnx = _export(job)
    return job.made.onnx


def _export(job: Job) -> OnnxExport:
    import torch

    job.progress("converting to ONNX")
    # the exporter prints its progress on stdout; the build's own lines say enough
    with contextlib.redirect_stdout(io.StringIO()):
        onnx_program = torch.onnx.export(
            job.converter_program, (), dynamo=True, input_names=[INPUT_NAME],
            output_names=output_names(job.graph), opset_version=OPSET, verbose=False,
        )
    proto = onnx_program.model_proto
    _name_batch_dims(proto)
    _record_preprocessing(proto, job.preprocessing)
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    try:
        data = proto.SerializeToString()
    except ValueError as err:  # protobuf refuses messages over 2 GB
        raise ExportError(f"{job.name}: the ONNX file would exceed protobuf's 2 GB limit: "
                          f"{err}", hint="export --to pt2 or openvino") from None
    if len(data) > MAX_BYTES:
        raise ExportError(f"{job.name}: the ONNX file would exceed protobuf's 2 GB limit "
                          f"({len(data):,} bytes)", hint="export --to pt2 or openvino")
    return OnnxExport(data, opset)


METADATA_KEY = "preprocessing"
"""The ONNX metadata key of the spec's preprocessing, as JSON."""


def _record_preprocessing(proto: Any, preprocessing: dict[str, Any] | None) -> None:
    """The spec's preprocessing in the file's metadata, for whoever deploys it."""
    if preprocessing is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(preprocessing)


def deployed_bytes(job: Job) -> bytes:
    """`model.onnx` as deployed at the job's precision: the exported file, or it quantized to
    int8 on the calibration samples (made once per build, reused by triton)."""
    if job.precision != "int8":
        return exported(job).data
    if job.made.onnx_int8 is None:
        job.made.onnx_int8 = quantize.onnx_int8(job, exported(job).data)
    return job.made.onnx_int8


def check_file(job: Job, label: str, path: Path) -> dict[str, Any]:
    """Load the deployed file in onnxruntime and compare it with the module: fp32 at two
    batches, int8 on the held-out calibration samples."""
    run = runner(path, job.graph)
    if job.precision == "int8":
        return quantize.judge(job, label, run, runtime_version(), quantize.ONNX_SETTINGS)
    return check(job, label, run, runtime_version(), "fp32").as_json()


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
    """Write `model.onnx` (int8: quantized on the calibration samples), run it in onnxruntime
    against the module: fp32 at two batches, int8 on the held-out samples."""
    data = deployed_bytes(job)
    path = job.write(ONNX_FILE, data)
    job.progress(f"loading {ONNX_FILE} in onnxruntime")
    result = check_file(job, ONNX_FILE, path)
    job.made.onnx_file = CheckedFile(path, result)
    return {
        "files": [ONNX_FILE],
        "precision": precision(job),
        "opset": exported(job).opset,
        "input": INPUT_NAME,
        "outputs": output_names(job.graph),
        "check": result,
        "preprocessing": job.preprocessing,
        # TensorRT reads int8 QDQ only symmetric (zero points 0); this file's activations are
        # uint8 with zero points, made for CPUs: no hand-off from it
        "trtexec": None if job.precision == "int8" else
        trtexec_command(job.input_dims, job.batch, _trt_precision(job.precision),
                        sizes=(job.image_size.min, job.image_size.max)
                        if job.image_size else None),
    }


def precision(job: Job) -> str:
    """The file's precision: int8 when asked, else fp32 (beside a bf16 or fp16 target)."""
    return "int8" if job.precision == "int8" else "fp32"


def _trt_precision(precision: str) -> str:
    return "fp16" if precision == "fp16" else "fp32"
