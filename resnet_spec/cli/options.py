"""What `build`, `export` and `bench` share: the progress lines, the `--seed` and `--weights`
options (`bench` too), everything else `build` and `export` take alike (`pipeline_options`),
the `--to` and `--batch` parsers, and turning the deployment errors into exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from resnet_spec import number_format as units
from resnet_spec.deploy.options import (
    AOTI_DEVICES,
    DEFAULT_BATCH,
    DEFAULT_MIN_AGREEMENT,
    TARGETS,
    TRITON_BACKENDS,
    BatchRange,
    OptionError,
    TargetUnavailable,
)


def progress(index: int, total: int, name: str, seconds: float | None) -> None:
    """`[7/8] export      26.76 s`; on a terminal the step's name shows while it runs."""
    head = f"[{index}/{total}] {name:<10}"
    live = sys.stderr.isatty()
    if seconds is None:
        if live:
            click.echo(f"{head}    ...", err=True, nl=False)
        return
    tail = "failed" if seconds < 0 else f"{seconds:6.2f} s"
    click.echo(f"{chr(13) if live else ''}{head} {tail}{CLEAR_LINE if live else ''}", err=True)


CLEAR_LINE = "\x1b[K"
"""Erase to the end of the line: a shorter line drawn over a longer one leaves no tail."""


def step_progress(index: int, total: int, name: str, message: str) -> None:
    """What a long step is doing: on a terminal redrawn in place on the step's line
    (`[7/9] onnx       checking model.onnx at batch 3...`), else one line each."""
    line = f"[{index}/{total}] {name:<10} {message}..."
    if sys.stderr.isatty():
        click.echo(f"\r{line}{CLEAR_LINE}", err=True, nl=False)
    else:
        click.echo(line, err=True)


def progress_hooks(quiet: bool) -> dict[str, Any]:
    """The pipeline's `on_step` and `on_progress`: these lines, or none with --quiet."""
    return {"on_step": None, "on_progress": None} if quiet else {
        "on_step": progress, "on_progress": step_progress}


def note(line: str) -> None:
    click.echo(f"      note: {line}", err=True)


def diagram_suffix(ctx: click.Context, param: click.Parameter, value: str | None
                   ) -> str | None:
    """A diagram file's name: its suffix chooses the format (`.svg`, `.png`, `.dot`)."""
    from resnet_spec.render import SUFFIXES

    if value is not None and Path(value).suffix.lower() not in SUFFIXES:
        raise click.BadParameter(f"the format comes from the suffix: end {value!r} in "
                                 f"{', '.join(SUFFIXES)}")
    return value


def parse_targets(ctx: click.Context, param: click.Parameter, value: str | None
                  ) -> tuple[str, ...]:
    """`onnx,openvino` -> ("onnx", "openvino"); unknown names are a usage error."""
    if not value:
        return ()
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise click.BadParameter(f"unknown target {unknown[0]!r}; choose from "
                                 f"{', '.join(TARGETS)} (comma-separated)")
    return tuple(names)


def parse_batch(ctx: click.Context, param: click.Parameter, value: str | None) -> BatchRange:
    if value is None:
        return DEFAULT_BATCH
    try:
        return BatchRange.parse(value)
    except ValueError as err:
        raise click.BadParameter(str(err).removeprefix(f"--batch {value!r}: ")) from None


def parse_image_size(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """`--image-size MIN:MAX` -> `ImageSizes` (None: the spec's fixed size); its fit to the
    network's stride is checked once the graph exists."""
    if value is None:
        return None
    from resnet_spec.deploy.image_size import ImageSizes

    try:
        return ImageSizes.parse(value)
    except ValueError as err:
        raise click.BadParameter(str(err).removeprefix(f"--image-size {value!r}: ")) from None


seed_option = click.option(
    "--seed", type=click.IntRange(min=0, max=2**64 - 1), default=0, show_default=True,
    help="Seed of the random initialization, 0 to 2**64-1 (torch's range; ignored with "
    "--weights).",
)
weights_option = click.option(
    "--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A .safetensors or .pt/.pth state_dict to load instead of random weights. A "
    "backbone (head: none) leaves a classifier file's fc unused; a stem for 1 or 4 input "
    "channels adapts a 3-channel file's first conv as timm's in_chans (each with a note).",
)


reinit_head_option = click.option(
    "--reinit-head", is_flag=True,
    help="Fine-tuning: load --weights into everything but the classifier, which is "
    "initialized from --seed (so the file may have another number of classes).",
)
quiet_option = click.option(
    "-q", "--quiet", is_flag=True,
    help="No progress lines on stderr (notes, errors and the closing line still print).",
)


def run_or_explain(action: Callable[[], Any]) -> Any:
    """Run `action`; a missing capability becomes exit 3 and a bad option exit 2, one line."""
    from resnet_spec.cli import CapabilityMissing

    try:
        return action()
    except TargetUnavailable as err:
        raise CapabilityMissing(str(err)) from None
    except OptionError as err:
        raise click.UsageError(str(err)) from None


def report_result(verb: str, result: Any) -> None:
    total = sum(result.seconds.values())
    click.echo(
        f"{verb} {result.name}: {units.count(result.params)} params, "
        f"{units.count(result.macs)} MACs -> {result.out}/ "
        f"({len(result.files) + 1} files, {total:.1f} s)"
    )


def _check_overrides(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
                     ) -> tuple[str, ...]:
    """Each `--set` must read as PATH=VALUE (a usage error, exit 2, if not); what it sets is
    judged with the spec (exit 1, located at the option)."""
    from resnet_spec.spec.overrides import OverrideSyntaxError, parse_override

    for text in value:
        try:
            parse_override(text)
        except OverrideSyntaxError as err:
            raise click.BadParameter(str(err)) from None
    return tuple(value)


set_option = click.option(
    "--set", "overrides", multiple=True, metavar="PATH=VALUE", callback=_check_overrides,
    help="Override a field after `extends` is merged, before validation; repeatable, later "
    "wins. PATH is dot-separated keys and 0-based list indices (stages.1.depth is the second "
    "stage); VALUE is YAML: 10, group, '{kind: group, groups: 32}', '[1, 2]', null.",
)
"""`--set PATH=VALUE`, repeatable: the `overrides` parameter, a `tuple[str, ...]`."""


calibration_option = click.option(
    "--calibration", metavar="PATH|random",
    help="int8: the samples to calibrate on, a folder of jpg/png images (brought to the input "
    "by the spec's preprocess) or a .npy/.npz of preprocessed N×C×H×W float arrays; every "
    "fifth is held out to judge the int8 files. `random`: random images, for speed tests "
    "only (not judged).",
)
min_agreement_option = click.option(
    "--min-agreement", type=click.FloatRange(0.0, 1.0), default=DEFAULT_MIN_AGREEMENT,
    show_default=True,
    help="int8: the share of held-out samples whose top-1 class must equal the fp32 "
    "program's, else the build fails and writes nothing.",
)


def pipeline_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """What `build` and `export` share: `--weights`, `--reinit-head`, `--seed`, the deployment
    options `--batch`, `--precision`, `--calibration`, `--min-agreement`, `--triton-backend`,
    `--image-size`, `--aoti-device`, then `-q` and `--set`."""
    for option in reversed([
        weights_option,
        reinit_head_option,
        seed_option,
        click.option("--batch", "batch", metavar="MIN:OPT:MAX", callback=parse_batch,
                     help=f"Batch sizes served (default {DEFAULT_BATCH}): TensorRT's "
                     "profile, Triton's max_batch_size and preferred sizes; onnx and openvino "
                     "files take any batch."),
        click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16", "int8"]),
                     default="fp32", show_default=True,
                     help="Compute precision of openvino (fp32, bf16, fp16, int8), tensorrt "
                     "(fp32, fp16) and onnx (fp32, int8: needs --calibration); pt2 files "
                     "are fp32."),
        calibration_option,
        min_agreement_option,
        click.option("--triton-backend", type=click.Choice(TRITON_BACKENDS), default="auto",
                     show_default=True,
                     help="What the triton target packages; auto = the TensorRT engine when "
                     "this run builds one, else the ONNX file (onnxruntime)."),
        click.option("--image-size", metavar="MIN:MAX", callback=parse_image_size,
                     help="Height and width dynamic, each any multiple of the network's total "
                     "stride from MIN to MAX pixels (e.g. 224:640 for ResNet-50, stride 32); "
                     "for pt2, onnx, openvino and aoti. Default: the spec's fixed size."),
        click.option("--aoti-device", type=click.Choice(AOTI_DEVICES), default="cpu",
                     show_default=True,
                     help="What --to aoti compiles for: cpu, or cuda (needs a CUDA device)."),
        quiet_option,
        set_option,
    ]):
        command = option(command)
    return command
