"""`resnet-spec build SPEC`: the whole pipeline into one folder (see resnet_spec.pipeline.run)."""

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
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder; default build/<name>/. Must be new, empty or an earlier build's "
    "folder (which is replaced whole, only when the build succeeds).",
)
@click.option("--to", "targets", metavar="TARGET,...",
              shell_complete=complete_list(TARGETS), callback=parse_targets,
              help="Deployment targets to add: " + ", ".join(t for t in TARGETS if t != "pt2")
              + " (comma-separated; see docs/deploy.md).")
@pipeline_options
def build(spec: str, out: Path | None, seed: int, weights: Path | None, reinit_head: bool,
          targets: tuple[str, ...], batch: BatchRange, precision: str,
          calibration: str | None, min_agreement: float, triton_backend: str,
          image_size: ImageSizes | None, aoti_device: str, quiet: bool,
          overrides: tuple[str, ...]) -> None:
    """Run the whole pipeline on SPEC (a file or built-in name): load, elaborate, check,
    render, cost, compile, export, then each --to target.

    Writes spec.resolved.yaml (with any --set applied), graph.json, diagram.dot,
    diagram.svg, summary.md, model.safetensors, model.pt2 and manifest.json (which lists
    the --set options) into the output folder, which appears complete or not at all; --to
    adds each target's files (model.onnx, openvino/, model.aoti.pt2, model.engine,
    triton/), each loaded back in its own runtime and compared with the module.
    Progress goes to stderr, one line a step (long steps say what they are doing; -q for
    none); the closing line (params, MACs, folder) to
    stdout. A target this machine cannot build (tensorrt without CUDA) exits 3 before any
    step, except tensorrt beside onnx (--to onnx,tensorrt): then model.onnx is written with
    tensorrt.sh, the trtexec command that builds the engine from it on a GPU machine.

    \b
    Examples:
      resnet-spec build resnet50
      resnet-spec build specs/cifar_resnet20.yaml --out build/c20 --seed 1
      resnet-spec build resnet18 --weights resnet18-f37072fd.safetensors
      resnet-spec build my10class.yaml --weights resnet18.safetensors --reinit-head
      resnet-spec build resnet50 --to onnx,openvino,triton
      resnet-spec build resnet18 --set head.classes=10 --set norm=group
    """
    from resnet_spec.pipeline.run import run_build

    result = run_or_explain(lambda: run_build(
        spec, out, seed=seed, weights=weights, targets=targets, batch=batch,
        precision=precision, triton_backend=triton_backend, overrides=overrides,
        calibration=calibration, min_agreement=min_agreement, on_note=note,
        reinit_head=reinit_head, image_size=image_size, aoti_device=aoti_device,
        **progress_hooks(quiet)))
    report_result("built", result)
