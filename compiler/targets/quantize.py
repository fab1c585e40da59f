"""int8: post-training quantization of the fp32 files on the calibration samples, and the
judgement of the result against the fp32 program on the held-out samples.

ONNX: onnxruntime's static quantization in QDQ form, per-channel weights. OpenVINO: NNCF's
post-training quantization. Both keep every weight inside half of the int8 range (7 bits):
x86 CPUs without VNNI multiply u8 by s8 with `vpmaddubsw`, which adds two products into an
int16 and saturates when both are near the range's ends; 7-bit weights keep that sum in range
(255 x 64 x 2 < 32768). CPUs with VNNI (or AMX) lose nothing by it but a little resolution,
which per-channel scales win back (onnxruntime's `reduce_range`, NNCF's `OverflowFix.ENABLE`).
The file may be deployed far from the machine that built it, so the choice does not follow the
build machine's instructions.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from resnet_spec.compiler.export import ExportError, max_error
from resnet_spec.compiler.targets.job import Job
from resnet_spec.compiler.telemetry import quiet_logger
from resnet_spec.deploy.options import INPUT_NAME

BATCH = 8
"""Samples per inference when calibrating (onnxruntime) and judging."""
ONNX_SETTINGS = {"quant_format": "QDQ", "activation_type": "QUInt8", "weight_type": "QInt8",
                 "per_channel": True, "reduce_range": True, "calibrate_method": "MinMax"}
"""onnxruntime.quantization.quantize_static's settings, recorded in the manifest."""
OPENVINO_SETTINGS = {"method": "nncf.quantize", "preset": "performance",
                     "overflow_fix": "enable", "fast_bias_correction": True}
"""NNCF's settings, recorded in the manifest: symmetric int8 weights and activations (NNCF's
default for CNNs on the CPU), every weight in 7 bits."""


def calibration(job: Job) -> Any:
    """The job's calibration samples; ExportError when an int8 build has none."""
    if job.calibration is None:
        raise ExportError("--precision int8 needs calibration samples",
                          hint="pass --calibration PATH (or random, for speed tests only)")
    return job.calibration


def onnx_int8(job: Job, fp32: bytes) -> bytes:
    """The fp32 ONNX file quantized statically (QDQ, per-channel) on the calibration split."""
    import onnx
    from onnxruntime import quantization as q

    samples = calibration(job).calibrate

    class Reader(q.CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(range(0, len(samples), BATCH))

        def get_next(self) -> dict[str, np.ndarray] | None:
            start = next(self.batches, None)
            return None if start is None else {INPUT_NAME: samples[start:start + BATCH]}

    job.progress(f"quantizing to int8 on {len(samples)} samples (onnxruntime)")
    with tempfile.TemporaryDirectory(prefix="resnet-spec-int8-") as folder:
        out = Path(folder) / "model.int8.onnx"
        # the quantizer prints as it goes, and logs a hint to run its pre-processing (shape
        # inference, graph fusions): the exporter wrote the shapes, the norms are folded, and
        # onnxruntime fuses conv + bias + relu when it loads the file
        with contextlib.redirect_stdout(io.StringIO()), quiet_logger(""):
            q.quantize_static(
                onnx.load_from_string(fp32), out, Reader(),
                quant_format=q.QuantFormat.QDQ, per_channel=True, reduce_range=True,
                activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8,
                calibrate_method=q.CalibrationMethod.MinMax)
        return out.read_bytes()


def openvino_int8(job: Job, model: Any) -> Any:
    """The fp32 OpenVINO model quantized by NNCF on the calibration split."""
    samples = calibration(job).calibrate
    job.progress(f"quantizing to int8 on {len(samples)} samples (NNCF)")
    # NNCF logs progress bars and notes at INFO, and importing it makes torch warn that
    # there is no CUDA: the build's own lines say enough
    with contextlib.redirect_stdout(io.StringIO()), quiet_logger("nncf"), \
            quiet_logger("torch.utils.cpp_extension"):
        import nncf
        from nncf.quantization.advanced_parameters import (
            AdvancedQuantizationParameters,
            OverflowFix,
        )

        dataset = nncf.Dataset([samples[i:i + 1] for i in range(len(samples))])
        return nncf.quantize(
            model, dataset, preset=nncf.QuantizationPreset.PERFORMANCE,
            subset_size=len(samples), fast_bias_correction=True,
            advanced_parameters=AdvancedQuantizationParameters(
                overflow_fix=OverflowFix.ENABLE))


def nncf_missing() -> str | None:
    try:
        import nncf  # noqa: F401
    except ImportError:
        return ("--precision int8 with --to openvino needs nncf, which is not installed: "
                "pip install 'resnet-spec[openvino]'")
    return None


def judge(job: Job, label: str, run: Any, runtime: str, settings: dict[str, Any]
          ) -> dict[str, Any]:
    """Run the int8 file and the fp32 module on the held-out samples: top-1 agreement, max
    and mean absolute error. ExportError when the agreement is below `job.min_agreement`
    (unless the samples are random: measured, not judged) or an output is not finite. With
    `--image-size` the file also runs at a second size, held to the module's shapes there."""
    import torch

    from resnet_spec.compiler.targets.check import named_outputs, other_sizes, output_names

    cal = calibration(job)
    held = cal.held_out
    job.progress(f"judging {label} on {len(held)} held-out samples")
    worst, total, count, agree, classes = 0.0, 0.0, 0, 0, True
    for start in range(0, len(held), BATCH):
        x = np.ascontiguousarray(held[start:start + BATCH])
        with torch.no_grad():
            want = named_outputs(job, job.module(torch.from_numpy(x)))
        got = {name: np.asarray(run(x)[name], dtype=np.float32)
               for name in output_names(job.graph)}
        error, _ = max_error(want, got, label, len(x))
        worst = max(worst, error)
        for name, expected in want.items():
            total += float(np.abs(expected - got[name]).sum())
            count += expected.size
        if len(want) == 1 and next(iter(want.values())).ndim == 2:
            (name, expected), = want.items()
            agree += int((expected.argmax(axis=1) == got[name].argmax(axis=1)).sum())
        else:
            classes = False
    agreement = agree / len(held) if classes else None
    judged = cal.judged and agreement is not None
    if judged and agreement < job.min_agreement:
        raise ExportError(
            f"{label}: its top-1 class agrees with the fp32 program's on {agreement:.1%} of "
            f"{len(held)} held-out calibration samples, below --min-agreement "
            f"{job.min_agreement:g}; nothing is written",
            hint="calibrate on more, or more representative, samples; or lower "
            "--min-agreement")
    return {
        "runtime": runtime, "precision": "int8", "judged_on": "held-out calibration samples",
        "calibration": cal.as_json(), "images": len(held), "max_abs_error": worst,
        "mean_abs_error": total / max(count, 1), "tolerance": None,
        "top1_agreement": agreement, "min_agreement": job.min_agreement if judged else None,
        "quantization": settings, "passed": True,
        "other_sizes": other_sizes(job, label, run),
    }
