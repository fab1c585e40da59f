"""Does a target's file compute what the torch module computes? Run both, compare, report.

fp32 files must match: max abs error <= 1e-4 x max(1, |output|) at each check batch, else the
build fails. Reduced-precision files are measured, not judged: their max error and top-1
agreement with the module on a fixed set of images go in the manifest. NaN or inf where the
module's output is finite (or the other way round) fails every file, whatever its precision;
where the module's own output overflows (a deep net at random init), the file's must too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from resnet_spec.compiler.export import (
    ExportError,
    example_input,
    judge_fp32,
    max_error,
    nonfinite_note,
)
from resnet_spec.compiler.targets.job import Job

Runner = Callable[[np.ndarray], dict[str, np.ndarray]]
"""A loaded target: an image batch in, its outputs by name out."""

REDUCED_SET = 16
"""Images in the fixed set a reduced-precision file is measured on."""


@dataclass
class CheckResult:
    """One target's comparison with the module, as the manifest records it."""

    runtime: str
    precision: str
    batches: list[int]
    images: int
    max_abs_error: float
    tolerance: float | None
    """None for reduced precision, which is reported, not judged."""
    top1_agreement: float | None
    """Share of images whose arg-max class equals the module's (outputs of shape N x classes)."""
    passed: bool
    other_sizes: list[list[int]] | None = None
    """With `--image-size`: the heights and widths it also ran at, besides the spec's."""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def output_names(graph: Any) -> list[str]:
    """The model's output names in order: one (`logits`), or a backbone's feature map keys."""
    return list(graph.outputs)


def reference(job: Job, x: np.ndarray) -> dict[str, np.ndarray]:
    """The torch module's outputs for `x`, by output name; kept for the next target, which
    is checked on the same fixed images."""
    import torch

    cache = job.references
    key = _key(x)
    if key not in cache:
        with torch.no_grad():
            cache[key] = named_outputs(job, job.module(torch.from_numpy(x)))
    return cache[key]


def named_outputs(job: Job, out: Any) -> dict[str, np.ndarray]:
    """A module's output (a tensor, or a backbone's dict) as float32 arrays by output name."""
    names = output_names(job.graph)
    tensors = out if isinstance(out, dict) else {names[0]: out}
    return {name: tensors[name].detach().float().numpy() for name in names}


def remember(job: Job, outputs: dict[int, Any]) -> None:
    """Take the module's outputs at the check batches from the build's own `.pt2` check
    (`export_pt2(..., keep=)`): the same images, no second forward pass."""
    for batch, out in outputs.items():
        job.references[_key(_images(job, batch))] = named_outputs(job, out)


def _key(x: np.ndarray) -> tuple[Any, ...]:
    return (x.shape, x.tobytes()[:256], float(x.sum()))


def check(job: Job, label: str, run: Runner, runtime: str, precision: str | None = None
          ) -> CheckResult:
    """Compare `run` with the module; ExportError if an fp32 file differs or an output is not
    finite where the module's is. `label` names the file in messages; `precision` is the
    file's (default the job's). With `--image-size`, the file also runs at a second size
    (`Job.check_sizes`)."""
    precision = precision or job.precision
    reduced = precision != "fp32"
    batches: list[tuple[int, np.ndarray]] = _batches(job, reduced)
    sizes = job.check_sizes()
    batches += [(batches[-1][0], _images(job, batches[-1][0], size)) for size in sizes[1:]]
    worst, scale, agree, images = 0.0, 0.0, 0, 0
    for i, (batch, x) in enumerate(batches):
        part = f" ({i + 1}/{len(batches)})" if reduced else ""
        at = "" if x.shape[2:] == tuple(job.input_dims[1:]) else f", {x.shape[2]}x{x.shape[3]}"
        job.progress(f"checking {label} at batch {batch}{at}{part}")
        want = reference(job, x)
        got = _outputs(run, x, want, label, batch)
        error, size = max_error(want, got, label, batch)
        worst, scale = max(worst, error), max(scale, size)
        agree += _top1_matches(want, got)
        images += batch
    tolerance = None if reduced else judge_fp32(worst, scale, label)
    note = nonfinite_note({batch: reference(job, x) for batch, x in batches})
    if note is not None:
        job.note(note)
    classes = _has_logits(job)
    return CheckResult(runtime, precision, sorted({b for b, _ in batches}), images, worst,
                       tolerance, agree / images if classes else None, True,
                       [list(s) for s in sizes[1:]] or None)


def other_sizes(job: Job, label: str, run: Runner) -> list[list[int]] | None:
    """With `--image-size`, run `run` at the second size (`Job.check_sizes`) on the fixed
    images and hold it to the module's output names, shapes and finiteness (an int8 file is
    judged on its calibration samples, which have the spec's size only): the sizes it ran at,
    or None without `--image-size`."""
    sizes = job.check_sizes()[1:]
    batch = job.batch.check_batches()[-1]
    for size in sizes:
        x = _images(job, batch, size)
        job.progress(f"checking {label} at batch {batch}, {x.shape[2]}x{x.shape[3]}")
        want = reference(job, x)
        max_error(want, _outputs(run, x, want, label, batch), label, batch)
    return [list(s) for s in sizes] or None


def _batches(job: Job, reduced: bool) -> list[tuple[int, np.ndarray]]:
    """The check batches; for reduced precision, a fixed set of about REDUCED_SET images cut
    into batches of the larger check size."""
    sizes = job.batch.check_batches()
    if not reduced:
        return [(b, _images(job, b)) for b in sizes]
    step = sizes[-1]
    count = max(step, REDUCED_SET // step * step)
    images = _images(job, count)
    return [(step, np.ascontiguousarray(images[i:i + step])) for i in range(0, count, step)]


def _images(job: Job, batch: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """A fixed pseudo-random batch (the same for the same size) as float32 NCHW, at the spec's
    height and width or `size`."""
    return example_input(job.graph, batch, job.module, size).float().contiguous().numpy()


def _outputs(run: Runner, x: np.ndarray, want: dict[str, np.ndarray], label: str, batch: int
             ) -> dict[str, np.ndarray]:
    """`run`'s outputs for `x`; ExportError unless each has the module's name and shape."""
    got = run(x)
    for name, expected in want.items():
        expected_shape = tuple(expected.shape)
        if name not in got or tuple(got[name].shape) != expected_shape:
            shape = tuple(got[name].shape) if name in got else "missing"
            raise ExportError(f"{label}: at batch {batch} output {name!r} is {shape}, "
                              f"expected {expected_shape}")
    return {name: np.asarray(value, dtype=np.float32) for name, value in got.items()}


def _has_logits(job: Job) -> bool:
    names = output_names(job.graph)
    return len(names) == 1 and len(job.graph.node(job.graph.outputs[names[0]]).shape) == 1


def _top1_matches(want: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> int:
    if len(want) != 1:
        return 0
    (name, expected), = want.items()
    if expected.ndim != 2:
        return 0
    return int((expected.argmax(axis=1) == got[name].argmax(axis=1)).sum())
