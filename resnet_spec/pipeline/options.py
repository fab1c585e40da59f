"""What a `build` or `export` is asked to do (`BuildOptions`) and who hears of it (`Hooks`),
both frozen, and the checks the options must pass before any step (`check_options`): those
that need neither the spec nor this machine's runtimes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from resnet_spec.deploy.image_size import ImageSizes
from resnet_spec.deploy.options import (
    DEFAULT_BATCH,
    DEFAULT_MIN_AGREEMENT,
    DYNAMIC_SIZE_TARGETS,
    BatchRange,
    OptionError,
    check_precision,
    check_triton_precision,
)

StepHook = Callable[[int, int, str, "float | None"], None]
"""Called as each step starts (seconds None) and ends, with its 1-based index, the step count,
its name and its seconds; a step that raises ends with seconds -1."""
NoteHook = Callable[[str], None]
"""Called with one line for something the user should know (a warning, a skipped file)."""
ProgressHook = Callable[[int, int, str, str], None]
"""Called while a long step runs, each time it starts something new (`exporting`, `checking
batch 3`): the step's 1-based index, the step count, its name and what it is doing."""


def _no_step(index: int, total: int, name: str, seconds: float | None) -> None:
    pass


def _no_note(line: str) -> None:
    pass


def _no_progress(index: int, total: int, name: str, message: str) -> None:
    pass


@dataclass(frozen=True)
class Hooks:
    """Who hears of a build: each step's start and end, the parts of long steps, the notes."""

    on_step: StepHook = _no_step
    on_note: NoteHook = _no_note
    on_progress: ProgressHook = _no_progress

    @classmethod
    def of(cls, on_step: StepHook | None = None, on_note: NoteHook | None = None,
           on_progress: ProgressHook | None = None) -> Hooks:
        """The hooks given, None for one nobody listens to."""
        return cls(on_step or _no_step, on_note or _no_note, on_progress or _no_progress)


@dataclass(frozen=True)
class BuildOptions:
    """Everything `build` and `export` take besides the spec and the output folder."""

    seed: int = 0
    weights: Path | None = None
    reinit_head: bool = False
    """Fine-tuning: the classifier is initialized from `seed`, everything else from `weights`."""
    targets: tuple[str, ...] = ()
    """`--to`, as given (`build_targets` puts them in build order)."""
    batch: BatchRange = DEFAULT_BATCH
    precision: str = "fp32"
    triton_backend: str = "auto"
    calibration: str | None = None
    """`--calibration`: a folder of images, a .npy/.npz, or `random` (int8 only)."""
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    aoti_device: str = "cpu"
    image_size: ImageSizes | None = None
    """`--image-size` as given (the cost step fits it to the graph's total stride)."""
    overrides: tuple[str, ...] = ()
    """`--set`'s PATH=VALUE strings, applied when loading and recorded in the manifest."""


def check_options(options: BuildOptions, targets: tuple[str, ...]) -> None:
    """OptionError unless the options fit together and fit `targets` (the targets in build
    order, as `build_targets` gives them)."""
    check_precision(targets, options.precision)
    if "triton" in targets:
        check_triton_precision(options.triton_backend, options.precision)
    _check_calibration(options.precision, options.calibration, options.min_agreement)
    _check_aoti_and_sizes(targets, options.aoti_device, options.image_size)
    if options.reinit_head and options.weights is None:
        raise OptionError("--reinit-head needs --weights FILE: the file to fine-tune from")


def _check_calibration(precision: str, calibration: str | None, min_agreement: float) -> None:
    """OptionError when int8 has no calibration, or calibration is given for nothing."""
    if precision == "int8" and calibration is None:
        raise OptionError("--precision int8 needs --calibration PATH: a folder of jpg/png "
                         "images or a .npy/.npz of preprocessed N×C×H×W arrays to calibrate "
                         "on (or --calibration random, for speed tests only)")
    if precision != "int8" and calibration is not None:
        raise OptionError(f"--calibration {calibration}: only --precision int8 calibrates")
    if not 0.0 <= min_agreement <= 1.0:
        raise OptionError(f"--min-agreement {min_agreement:g}: a share between 0 and 1")


def _check_aoti_and_sizes(targets: tuple[str, ...], aoti_device: str,
                          image_size: ImageSizes | None) -> None:
    """OptionError for `--aoti-device` without the aoti target, or `--image-size` with a
    target whose sizes are fixed (TensorRT's profile and Triton's config name them)."""
    if aoti_device != "cpu" and "aoti" not in targets:
        raise OptionError(f"--aoti-device {aoti_device} is for the aoti target: add aoti to --to")
    fixed = [t for t in targets if t not in DYNAMIC_SIZE_TARGETS]
    if image_size is not None and fixed:
        raise OptionError(f"--image-size applies to {', '.join(DYNAMIC_SIZE_TARGETS)}; "
                          f"--to {fixed[0]} takes the spec's fixed size")
