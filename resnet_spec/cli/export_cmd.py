"""`resnet-spec export SPEC --to TARGET`: deployment files only, written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import click

from resnet_spec.cli.completion import complete_list, complete_spec
from resnet_spec.cli.options import (
    note,
    parse_targets,
    pipeline_options,
    progress_hooks,
    report_result,
    run_or_explain,
)
from resnet_spec.deploy.image_size import ImageSizes
from resnet_spec.deploy.options import TARGETS, BatchRange


@click.command()
@click.argument("spec", metavar="SPEC", shell_complete=complete_spec)
@click.option("--to", "targets", metavar="TARGET,...",
              shell_complete=complete_list(TARGETS), required=True, callback=parse_targets,
              help=f"{', '.join(TARGETS[:-1])} or {TARGETS[-1]} (several comma-separated).")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path),
    help="Output folder; default build/<name>-<targets>/. Must be new, empty or an earlier "
    "build's or export's folder (replaced whole, only when the export succeeds).",
)
@pipeline_options
def export(spec: str, targets: tuple[str, ...], out: Path | None, weights: Path | None,
           reinit_head: bool, seed: int, batch: BatchRange, precision: str,
           calibration: str | None, min_agreement: float, triton_backend: str,
           image_size: ImageSizes | None, aoti_device: str, quiet: bool,
           overrides: tuple[str, ...]) -> None:
    """Export SPEC (a file or built-in name) for deployment: compile it, trace it once with
    torch.export, write each target from that program, load each back in its own runtime
    and compare it with the module at two batch sizes.

    \b
    pt2       model.pt2 (torch.export program, batch dynamic)
    onnx      model.onnx (batch dynamic; checked with onnxruntime)
    openvino  openvino/model.xml + model.bin (checked with OpenVINO on the CPU)
    aoti      model.aoti.pt2 (AOTInductor package; one --batch N: static, prepacked)
    tensorrt  model.trt.ep + model.engine (needs CUDA and torch-tensorrt; else exit 3,
              or with onnx too: model.onnx and tensorrt.sh, which builds it elsewhere)
    triton    triton/<name>/config.pbtxt + triton/<name>/1/<model file>

    The folder also holds spec.resolved.yaml (with any --set applied) and manifest.json
    (every file's sha256, each target's check, runtime versions, the --set options).
    Progress goes to stderr (-q for none). See
    docs/deploy.md.

    \b
    Examples:
      resnet-spec export resnet50 --to onnx
      resnet-spec export resnet50 --to openvino --precision bf16
      resnet-spec export resnet50 --to onnx,openvino --precision int8 --calibration images/
      resnet-spec export resnet50 --to triton --batch 1:16:64 --out models/
      resnet-spec export resnet50 --to aoti
      resnet-spec export resnet50 --to onnx,openvino --image-size 224:640
      resnet-spec export resnet50 --to tensorrt --precision fp16   # on a GPU machine
    """
    from resnet_spec.pipeline.run import run_export

    result = run_or_explain(lambda: run_export(
        spec, targets, out, seed=seed, weights=weights, batch=batch, precision=precision,
        triton_backend=triton_backend, overrides=overrides,
        calibration=calibration, min_agreement=min_agreement, on_note=note,
        reinit_head=reinit_head, image_size=image_size, aoti_device=aoti_device,
        **progress_hooks(quiet)))
    report_result("exported", result)
