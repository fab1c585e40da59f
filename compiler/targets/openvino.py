"""`openvino`: `openvino/model.xml` + `model.bin` converted from the exported program, checked
with the OpenVINO runtime on the CPU.

Precision is never left to the device: OpenVINO's CPU plugin runs bf16 by default wherever the
CPU has it, and `save_model` compresses weights to fp16 unless told not to. So an fp32 file
keeps fp32 weights, every compile sets `INFERENCE_PRECISION_HINT` from `--precision`, and the
manifest records the precision the compiled model reports it runs, read back from the device.
At int8 the converted model is quantized by NNCF (`quantize.py`) before it is saved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from resnet_spec.compiler.export import ExportError
from resnet_spec.compiler.targets import quantize
from resnet_spec.compiler.targets.check import check, output_names
from resnet_spec.compiler.targets.job import Job
from resnet_spec.compiler.telemetry import quiet_logger
from resnet_spec.deploy.options import INPUT_NAME
from resnet_spec.pipeline.outdir import OutputError

FOLDER = "openvino"
XML, BIN = f"{FOLDER}/model.xml", f"{FOLDER}/model.bin"
HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "f32"}
"""`--precision` -> OpenVINO's INFERENCE_PRECISION_HINT. An int8 model's quantized layers run
int8 whatever the hint; the hint sets what the rest (the layers NNCF left in float) runs."""


def missing() -> str | None:
    try:
        import openvino  # noqa: F401
    except ImportError as err:
        return (f"--to openvino needs the openvino package ({err}): "
                "pip install 'resnet-spec[openvino]'")
    return None


def convert(job: Job) -> Any:
    """The program as an OpenVINO model: input `images` with a dynamic batch and the spec's
    fixed C, H, W (with `--image-size`, H and W bounded to its range); outputs named as the
    model's."""
    import openvino as ov

    # with nncf installed, OpenVINO's PyTorch frontend imports it, and that makes torch warn
    # that there is no CUDA: nothing the user can act on
    with quiet_logger("torch.utils.cpp_extension"):
        model = ov.convert_model(job.converter_program)
    sizes = job.image_size
    dims: list[Any] = list(job.input_dims) if sizes is None else [
        job.input_dims[0], ov.Dimension(sizes.min, sizes.max),
        ov.Dimension(sizes.min, sizes.max)]
    model.reshape({model.inputs[0]: ov.PartialShape([-1, *dims])})
    model.inputs[0].get_tensor().set_names({INPUT_NAME})
    for port, name in zip(model.outputs, output_names(job.graph), strict=True):
        port.get_tensor().set_names({name})
    if job.preprocessing is not None:
        model.set_rt_info(json.dumps(job.preprocessing), ["resnet_spec", "preprocessing"])
    if job.precision == "int8":
        model = quantize.openvino_int8(job, model)
    return model


def compile_config(precision: str, threads: int | None = None,
                   hint: str = "LATENCY") -> dict[str, Any]:
    """The CPU plugin settings every compile of the file should use (recorded in the
    manifest): the precision explicit; threads when asked."""
    config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": HINTS[precision],
                              "PERFORMANCE_HINT": hint}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    return config


def compile_model(xml: Path, precision: str, threads: int | None = None) -> Any:
    import openvino as ov

    return ov.Core().compile_model(str(xml), "CPU", compile_config(precision, threads))


def save(model: Any, job: Job) -> Path:
    import openvino as ov

    xml = job.folder / XML
    xml.parent.mkdir(parents=True, exist_ok=True)
    try:  # OpenVINO's writer raises (it does not abort) when a write fails
        ov.save_model(model, str(xml), compress_to_fp16=job.precision == "fp16")
    except (RuntimeError, OSError) as err:
        raise OutputError(f"cannot write {XML} and {BIN} in {job.folder}: {err} (is the disk "
                          "full or a file size limit reached?)",
                          hint="free some space, or choose another --out") from None
    return xml


def runner(xml: Path, job: Job) -> tuple[Any, Any]:
    """The compiled model and a check runner over it; ExportError if it does not load."""
    try:
        compiled = compile_model(xml, job.precision)
    except Exception as err:  # any failure to load means the files are unusable
        raise ExportError(f"{XML}: OpenVINO cannot load it: {err}") from err
    request = compiled.create_infer_request()
    ports = {name: compiled.output(name) for name in output_names(job.graph)}

    def run(x: np.ndarray) -> dict[str, np.ndarray]:
        result = request.infer({INPUT_NAME: x})
        return {name: np.array(result[port]) for name, port in ports.items()}

    return compiled, run


def device_precision(compiled: Any) -> str:
    """The precision a compiled model runs at, as OpenVINO names it (`f32`, `bf16`, `f16`)."""
    value = compiled.get_property("INFERENCE_PRECISION_HINT")
    return value.to_string() if hasattr(value, "to_string") else str(value)


def build(job: Job) -> dict[str, Any]:
    """Convert (int8: quantize), save, load back with the precision asked, compare with the
    module."""
    job.progress("converting to OpenVINO")
    model = convert(job)
    job.progress(f"writing {XML}")
    xml = save(model, job)
    job.made.openvino_xml = xml
    job.progress("compiling for the CPU")
    compiled, run = runner(xml, job)
    ran = device_precision(compiled)
    result = check_file(job, XML, run)
    if ran != HINTS[job.precision]:
        job.note(f"openvino: asked for {job.precision}, the CPU runs {ran}")
    return {
        "files": [XML, BIN],
        "precision": job.precision,
        "weights": {"fp16": "fp16", "int8": "int8"}.get(job.precision, "fp32"),
        "device": "CPU",
        "device_precision": ran,
        "compile_config": compile_config(job.precision),
        "check": result,
    }


def runtime_version() -> str:
    import openvino as ov

    return f"openvino {ov.__version__.split('-')[0]}"


def check_file(job: Job, label: str, run: Any) -> dict[str, Any]:
    """Compare the compiled file with the module: fp32 and reduced precision on the check
    batches, int8 on the held-out calibration samples."""
    if job.precision == "int8":
        return quantize.judge(job, label, run, runtime_version(), quantize.OPENVINO_SETTINGS)
    return check(job, label, run, runtime_version()).as_json()
