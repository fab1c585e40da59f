"""`resnet-spec build` and `export`: the pipeline into one folder, written whole or not at all.

The steps run in a fixed order (`STEPS`, `EXPORT_STEPS`), one action each (`STEP_ACTIONS`);
deployment targets (`--to onnx,openvino,...`) are one more step each, before the last. Every file is
written into a hidden staging folder beside the output folder; the last step writes
`manifest.json` and swaps the staging folder into place with one rename
(`resnet_spec.outdir`). A build that fails or is killed at any moment therefore leaves either
no output folder or the previous complete one. torch is imported only from the compile step
on (and, when targets are asked for, to see before any step whether this machine has them).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from resnet_spec.deploy import (
    DEFAULT_BATCH,
    DEFAULT_MIN_AGREEMENT,
    DYNAMIC_SIZE_TARGETS,
    TARGETS,
    BatchRange,
    OptionError,
    TargetUnavailable,
    check_precision,
    check_triton_precision,
    in_order,
    trtexec_command,
)
from resnet_spec.errors import SpecError
from resnet_spec.image_size import ImageSizes, total_stride
from resnet_spec.ir import Graph
from resnet_spec.loader import SpecInput, load, spec_ref
from resnet_spec.outdir import (
    MANIFEST,
    check_target,
    discard,
    identity,
    open_staging,
    open_to_umask,
    swap_into_place,
    write_file,
)
from resnet_spec.resolved import resolved_dict, resolved_yaml
from resnet_spec.schema import Spec
from resnet_spec.version import __version__

STEPS = ("load", "elaborate", "check", "render", "cost", "compile", "export", "write")
"""The steps of a plain `build`; each target asked for with `--to` adds one before `write`."""
EXPORT_STEPS = ("load", "elaborate", "check", "cost", "compile", "trace", "write")
"""The steps of `export`, the targets' steps before `write`."""
RUNTIMES = {
    "pt2": (), "onnx": ("onnx", "onnxscript", "onnxruntime"), "openvino": ("openvino", "nncf"),
    "aoti": (),  # torch itself, always recorded
    "tensorrt": ("torch-tensorrt", "tensorrt"), "triton": ("tritonclient",),
}
"""The packages whose versions the manifest records for each target."""

StepHook = Callable[[int, int, str, "float | None"], None]
"""Called as each step starts (seconds None) and ends, with its 1-based index, the step count,
its name and its seconds; a step that raises ends with seconds -1."""
NoteHook = Callable[[str], None]
"""Called with one line for something the user should know (a warning, a skipped file)."""
ProgressHook = Callable[[int, int, str, str], None]
"""Called while a long step runs, each time it starts something new (`exporting`, `checking
batch 3`): the step's 1-based index, the step count, its name and what it is doing."""


@dataclass
class BuildResult:
    """What a build produced: where, its totals, every file's sha256, and each step's time."""

    name: str
    out: Path
    params: int
    macs: int
    files: dict[str, str]
    seconds: dict[str, float]
    notes: list[str]


@dataclass
class _Build:
    """The state the steps pass along; each step reads what earlier ones left here."""

    ref: str
    """How the spec was given, for messages and the manifest: its path or name, `<dict>`."""
    out: Path | None
    seed: int
    weights: Path | None
    on_step: StepHook
    on_note: NoteHook
    on_progress: ProgressHook = lambda *_: None
    reinit_head: bool = False
    """Fine-tuning: the classifier is initialized from `seed`, everything else from `weights`."""
    current: str = ""
    """The step running now, that `progress` reports for."""
    steps: tuple[str, ...] = STEPS
    targets: tuple[str, ...] = ()
    batch: BatchRange = DEFAULT_BATCH
    precision: str = "fp32"
    triton_backend: str = "auto"
    calibration: str | None = None
    """`--calibration`: a folder of images, a .npy/.npz, or `random` (int8 only)."""
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    samples: Any = None
    """The loaded calibration samples (`resnet_spec.calibration.Calibration`)."""
    aoti_device: str = "cpu"
    image_size: ImageSizes | None = None
    """`--image-size` as given, then (the cost step) fitted to the graph's total stride."""
    given: SpecInput | None = None
    """The spec as given (a dict or a `Spec` is not a `ref`); None: read `ref`."""
    overrides: tuple[str, ...] = ()
    """`--set`'s PATH=VALUE strings, applied when loading and recorded in the manifest."""
    full: bool = True
    """A build writes the graph, diagram and summary too; an export only the targets."""
    staging: Path | None = None
    replace: Any = False
    """The identity of the folder at `out` when the build began (`outdir.identity`), or False:
    only that folder is replaced."""
    spec: Spec | None = None
    graph: Graph | None = None
    cost: Any = None
    module: Any = None
    program: Any = None
    reference: dict[int, Any] = field(default_factory=dict)
    """The module's outputs at the `.pt2` check batches, reused by the targets' checks."""
    job: Any = None
    reports: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    handoff: str = ""
    """The TensorRT hand-off script written beside model.onnx where TensorRT is missing."""
    _noted: int = 0

    def step(self, name: str, action: Callable[[_Build], None]) -> None:
        index = self.steps.index(name) + 1
        self.current = name
        self.on_step(index, len(self.steps), name, None)
        start = time.perf_counter()
        try:
            action(self)
        except BaseException:
            self.on_step(index, len(self.steps), name, -1.0)
            raise
        self.seconds[name] = time.perf_counter() - start
        self.on_step(index, len(self.steps), name, self.seconds[name])
        for line in self.notes[self._noted:]:  # after the step's line, not inside it
            self.on_note(line)
        self._noted = len(self.notes)

    def note(self, line: str) -> None:
        if line not in self.notes:  # the `.pt2` step and a target may find the same thing
            self.notes.append(line)

    def announce(self, line: str) -> None:
        """A note told now, before any step (and kept for the manifest like the others)."""
        self.notes.append(line)
        self.on_note(line)
        self._noted = len(self.notes)

    def progress(self, message: str) -> None:
        """Tell `on_progress` what the running step is doing now."""
        self.on_progress(self.steps.index(self.current) + 1, len(self.steps), self.current,
                         message)

    def write(self, filename: str, content: str | bytes) -> Path:
        path = self.staged(filename)
        write_file(path, content.encode("utf-8") if isinstance(content, str) else content)
        return path

    def staged(self, filename: str) -> Path:
        assert self.staging is not None, "the load step opens the staging folder"
        return self.staging / filename


def run_build(
    spec: SpecInput,
    out: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    weights: str | os.PathLike[str] | None = None,
    targets: tuple[str, ...] | list[str] = (),
    batch: BatchRange = DEFAULT_BATCH,
    precision: str = "fp32",
    triton_backend: str = "auto",
    overrides: Sequence[str] = (),
    on_step: StepHook | None = None,
    on_note: NoteHook | None = None,
    reinit_head: bool = False,
    on_progress: ProgressHook | None = None,
    calibration: str | None = None,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    aoti_device: str = "cpu",
    image_size: ImageSizes | None = None,
) -> BuildResult:
    """Build `spec` (a path, a built-in name, a dict or a `Spec`, with `--set`'s `overrides`)
    into `out` (default `build/<name>/`), adding the deployment `targets` (`onnx`,
    `openvino`, `tensorrt`, `triton`; the build always writes `model.pt2`) at `precision`,
    for batches in `batch`. `reinit_head` loads `weights` into everything but the
    classifier, which starts from `seed` (fine-tuning). `on_step`, `on_progress` and
    `on_note` hear of each step, of what a long step is doing, and of anything the user
    should know. At int8, `calibration` (a folder of images, a .npy/.npz, or `random`) is
    what the files are calibrated on, every fifth sample held out to judge them against
    `min_agreement`."""
    chosen = tuple(t for t in in_order(tuple(targets)) if t != "pt2")
    b = _start(spec, out, seed, weights, chosen, batch, precision, triton_backend,
               on_step, on_note, overrides, reinit_head=reinit_head, on_progress=on_progress,
               calibration=calibration, min_agreement=min_agreement,
               aoti_device=aoti_device, image_size=image_size)
    return _run(b, (*STEPS[:-1], *b.targets, STEPS[-1]))


def run_export(
    spec: SpecInput,
    targets: tuple[str, ...] | list[str],
    out: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    weights: str | os.PathLike[str] | None = None,
    batch: BatchRange = DEFAULT_BATCH,
    precision: str = "fp32",
    triton_backend: str = "auto",
    overrides: Sequence[str] = (),
    on_step: StepHook | None = None,
    on_note: NoteHook | None = None,
    reinit_head: bool = False,
    on_progress: ProgressHook | None = None,
    calibration: str | None = None,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    aoti_device: str = "cpu",
    image_size: ImageSizes | None = None,
) -> BuildResult:
    """Export `spec` (as `run_build` takes it) to `targets` (any of pt2, onnx, openvino,
    aoti, tensorrt, triton) into `out` (default `build/<name>-<targets>/`): the target files,
    `spec.resolved.yaml` and the manifest, nothing else. The options and hooks are
    `run_build`'s."""
    chosen = in_order(tuple(targets))
    if not chosen:
        raise OptionError(f"export needs at least one target: {', '.join(TARGETS)}")
    b = _start(spec, out, seed, weights, chosen, batch, precision, triton_backend,
               on_step, on_note, overrides, reinit_head=reinit_head, on_progress=on_progress,
               calibration=calibration, min_agreement=min_agreement,
               aoti_device=aoti_device, image_size=image_size)
    b.full = False
    return _run(b, (*EXPORT_STEPS[:-1], *b.targets, EXPORT_STEPS[-1]))


def _run(b: _Build, steps: tuple[str, ...]) -> BuildResult:
    """Run the named steps in order (`STEP_ACTIONS`; a target's name runs that target); the
    staging folder is removed whatever happens, after the last step has moved it into place."""
    b.steps = steps
    try:
        for name in steps:
            b.step(name, STEP_ACTIONS.get(name) or _target_step(name))
    except SpecError as err:
        _name_the_output(err, b)
        raise
    finally:
        discard(b.staging)
    return _result(b)


def _name_the_output(err: SpecError, b: _Build) -> None:
    """Say `--out`'s path where a message names a file in the staging folder, which is
    deleted as the error is reported."""
    if b.staging is None or b.out is None:
        return
    staged, out = os.fspath(b.staging), os.fspath(b.out)
    err.message = err.message.replace(staged, out)
    err.hint = err.hint.replace(staged, out)
    err.args = (err.message, *err.args[1:])


def _start(spec: SpecInput, out: str | os.PathLike[str] | None, seed: int,
           weights: str | os.PathLike[str] | None, targets: tuple[str, ...],
           batch: BatchRange, precision: str, triton_backend: str,
           on_step: StepHook | None, on_note: NoteHook | None,
           overrides: Sequence[str] = (), *, reinit_head: bool = False,
           on_progress: ProgressHook | None = None, calibration: str | None = None,
           min_agreement: float = DEFAULT_MIN_AGREEMENT, aoti_device: str = "cpu",
           image_size: ImageSizes | None = None) -> _Build:
    """The run's state, after the checks that need no step: the output folder may be
    written, the options fit the targets, and this machine has what each target needs."""
    check_precision(targets, precision)
    if "triton" in targets:
        check_triton_precision(triton_backend, precision)
    _check_calibration(precision, calibration, min_agreement)
    _check_aoti_and_sizes(targets, aoti_device, image_size)
    if reinit_head and weights is None:
        raise OptionError("--reinit-head needs --weights FILE: the file to fine-tune from")
    b = _Build(
        ref=spec_ref(spec),
        given=spec,
        overrides=tuple(overrides),
        out=check_target(Path(out)) if out is not None else None,
        seed=seed,
        weights=Path(weights) if weights is not None else None,
        on_step=on_step or (lambda *_: None),
        on_note=on_note or (lambda _: None),
        on_progress=on_progress or (lambda *_: None), reinit_head=reinit_head,
        targets=targets, batch=batch, precision=precision, triton_backend=triton_backend,
        calibration=calibration, min_agreement=min_agreement,
        aoti_device=aoti_device, image_size=image_size,
    )
    _require_targets(b)
    return b


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


def _require_targets(b: _Build) -> None:
    """TargetUnavailable, before any step and any file, for the first target this machine
    cannot build; for TensorRT it also gives the hand-off from the onnx target."""
    if not b.targets:
        return
    # a bad spec is reported before the targets' runtimes are imported (seconds), and before a
    # missing runtime: what the user must fix first
    b.spec = load(b.ref if b.given is None else b.given, b.overrides)
    from resnet_spec.compiler.targets import target

    for name in b.targets:
        lacking = target(name).missing(*((b.aoti_device,) if name == "aoti" else ()))
        if lacking is None and b.precision == "int8" and _runs_openvino(b, name):
            from resnet_spec.compiler.targets.quantize import nncf_missing

            lacking = nncf_missing()
        if lacking is None:
            continue
        if name == "tensorrt" and "onnx" in b.targets and b.triton_backend != "tensorrt":
            # the onnx target is what a GPU machine builds the engine from: write it, and
            # the command that does, instead of nothing
            b.handoff = handoff_script(b.spec, b.batch, b.precision)
            b.targets = tuple(t for t in b.targets if t != "tensorrt")
            b.reports["tensorrt"] = {"built": False, "why": lacking, "handoff": HANDOFF_FILE}
            continue
        if name == "tensorrt":
            lacking += ". " + tensorrt_handoff(b.ref, b.batch, b.precision, b.given,
                                               b.overrides, _weights_options(b))
        raise TargetUnavailable(lacking)
    if b.triton_backend == "tensorrt" and "tensorrt" not in b.targets:
        raise OptionError("--triton-backend tensorrt packages the engine this build makes: "
                         "add tensorrt to --to")
    if b.calibration is not None:
        _load_calibration(b)


def _runs_openvino(b: _Build, name: str) -> bool:
    return name == "openvino" or (name == "triton" and b.triton_backend == "openvino")


def _load_calibration(b: _Build) -> None:
    """Read the calibration samples before any step (a bad file costs no export), and say
    loudly when they are random."""
    from resnet_spec.calibration import RANDOM_WARNING, load_calibration

    assert b.spec is not None and b.calibration is not None
    b.samples = load_calibration(b.calibration, b.spec)
    if not b.samples.judged:
        b.announce(f"WARNING: {RANDOM_WARNING}")


def _weights_options(b: _Build) -> str:
    """The options that give the hand-off's export this build's weights (else it would export
    random ones)."""
    if b.weights is None:
        return f" --seed {b.seed}" if b.seed else ""
    reinit = f" --reinit-head --seed {b.seed}" if b.reinit_head else ""
    return f" --weights {shlex.quote(os.fspath(b.weights))}{reinit}"


def tensorrt_handoff(ref: str, batch: BatchRange, precision: str,
                     given: SpecInput | None = None, overrides: Sequence[str] = (),
                     options: str = "") -> str:
    """What to run on a GPU machine instead: the onnx export (with `--set`'s `overrides` and
    `options`, such as the weights), then trtexec on it."""
    spec = load(ref if given is None else given, overrides)
    ref += "".join(f" --set {shlex.quote(text)}" for text in overrides)
    dims = (spec.input.channels, spec.input.height, spec.input.width)
    command = trtexec_command(dims, batch, "fp16" if precision == "fp16" else "fp32")
    folder = shlex.quote(f"build/{spec.name}-onnx")
    return (f"Without it, build the same engine on a GPU machine from the onnx target: "
            f"resnet-spec export {ref} --to onnx --batch {batch}{options} --out {folder}, then "
            f"in {folder}: {command}")


HANDOFF_FILE = "tensorrt.sh"
"""The script `build --to onnx,tensorrt` writes beside model.onnx where TensorRT is missing."""


def handoff_script(spec: Spec, batch: BatchRange, precision: str) -> str:
    """The shell script that builds the TensorRT engine from the folder's model.onnx."""
    dims = (spec.input.channels, spec.input.height, spec.input.width)
    command = trtexec_command(dims, batch, "fp16" if precision == "fp16" else "fp32")
    return ("#!/bin/sh\n"
            "# TensorRT was not installed where this folder was built. On a machine with an\n"
            "# NVIDIA GPU and TensorRT's trtexec, this builds model.engine from model.onnx\n"
            f"# (batch {batch}).\n"
            "set -e\n"
            'cd "$(dirname "$0")"\n'
            f"{command}\n")


# -- the steps ------------------------------------------------------------------------------


def _load(b: _Build) -> None:
    if b.spec is None:
        b.spec = load(b.ref if b.given is None else b.given, b.overrides)
    default = b.spec.name if b.full else "-".join((b.spec.name, *b.targets))
    b.out = check_target(b.out or Path("build") / default)
    b.replace = identity(b.out) or False  # only the folder there now may be replaced
    b.staging = open_staging(b.out)
    path = b.write("spec.resolved.yaml", resolved_yaml(b.spec))
    # the resolved spec must stand on its own: re-read it and expect the same settings
    if resolved_dict(load(path)) != resolved_dict(b.spec):
        raise RuntimeError("spec.resolved.yaml does not read back as the spec it came from")


def _elaborate(b: _Build) -> None:
    from resnet_spec.elaboration import elaborate_unchecked

    assert b.spec is not None
    b.graph = elaborate_unchecked(b.spec)
    if b.full:
        b.write("graph.json", json.dumps(b.graph.to_json(), indent=2) + "\n")


def _check(b: _Build) -> None:
    from resnet_spec.check import verify

    assert b.graph is not None
    verify(b.graph, b.spec.source if b.spec is not None else None)
    for warning in b.graph.warnings:
        b.note(warning)


def _render(b: _Build) -> None:
    from resnet_spec import render

    assert b.graph is not None
    dot = render.to_dot(b.graph, level="blocks")
    b.write("diagram.dot", dot)
    try:
        b.write("diagram.svg", render.render(dot, "svg"))
    except render.RenderError as err:
        b.note(f"diagram.svg skipped (diagram.dot written): {err}")


def _cost(b: _Build) -> None:
    from resnet_spec import cost

    assert b.graph is not None
    b.cost = cost.analyze(b.graph)
    if b.full:
        b.write("summary.md", cost.to_markdown(b.cost))
    _fit_image_size(b)  # the total stride is known from here: refuse bad sizes before torch


def _compile(b: _Build) -> None:
    from resnet_spec.build_memory import check_fits, pipeline_workload

    # before torch is even imported: refuse what will not fit, with the batches and targets
    # this run will really check
    check_fits(b.graph, b.cost, workload=pipeline_workload(
        b.targets, b.batch.check_batches(), full=b.full, weights_file=b.weights is not None))
    from resnet_spec.compiler import compile_graph
    from resnet_spec.compiler.export import save_safetensors

    # torchvision-named state for model.safetensors: not the folded `for_inference` module
    b.module = compile_graph(b.graph, weights=b.weights, seed=b.seed, reinit_head=b.reinit_head,
                             on_note=b.note).eval()
    if b.full:
        save_safetensors(b.module, b.staged("model.safetensors"))


def _export(b: _Build) -> None:
    from resnet_spec.compiler.export import export_pt2, nonfinite_note

    assert b.graph is not None
    b.program = export_pt2(b.module, b.graph, b.staged("model.pt2"), keep=b.reference,
                           progress=b.progress, sizes=b.image_size)
    note = nonfinite_note(b.reference)
    if note is not None:
        b.note(note)


def _trace(b: _Build) -> None:
    from resnet_spec.compiler.export import export_program

    assert b.graph is not None
    b.progress("exporting")
    b.program = export_program(b.module, b.graph, b.image_size)


def _fit_image_size(b: _Build) -> None:
    """`--image-size` checked against the network's total stride (OptionError if its bounds
    or the spec's own size are not valid sizes), and the valid sizes told."""
    if b.image_size is None:
        return
    assert b.graph is not None and b.cost is not None
    _, height, width = b.graph.input_shape
    b.image_size = b.image_size.for_graph(total_stride(b.cost), height, width, b.graph.name)
    b.note(f"--image-size {b.image_size}: the files take {b.image_size.valid()}")


def _target_step(name: str) -> Callable[[_Build], None]:
    def step(b: _Build) -> None:
        from resnet_spec.compiler.targets import Job, target
        from resnet_spec.compiler.targets.check import remember

        if b.job is None:
            assert b.graph is not None and b.staging is not None
            b.job = Job(b.graph, b.module, b.program, b.staging, batch=b.batch,
                        precision=b.precision, triton_backend=b.triton_backend, note=b.note,
                        progress=b.progress, calibration=b.samples,
                        min_agreement=b.min_agreement, preprocessing=preprocessing(b.spec),
                        aoti_device=b.aoti_device, image_size=b.image_size)
            _note_crop(b)
            remember(b.job, b.reference)
        b.reports[name] = target(name).build(b.job)

    return step


def _note_crop(b: _Build) -> None:
    from resnet_spec.calibration import crop_mismatch

    line = crop_mismatch(b.spec) if b.spec is not None else None
    if line is not None:
        b.note(line)


def _publish(b: _Build) -> None:
    assert b.staging is not None and b.out is not None
    if b.handoff:
        b.write(HANDOFF_FILE, b.handoff)
        b.note(f"tensorrt: not built here ({b.reports['tensorrt']['why']}); "
               f"{b.out}/model.onnx is written, and on a GPU machine with trtexec this builds "
               f"model.engine from it: sh {shlex.quote(str(b.out / HANDOFF_FILE))}")
    data = manifest(b)
    b.files = data["files"]
    b.write(MANIFEST, json.dumps(data, indent=2) + "\n")
    open_to_umask(b.staging)
    leftover = swap_into_place(b.staging, b.out, replace=b.replace)
    b.staging = None
    if leftover is not None:
        b.note(leftover)


STEP_ACTIONS: dict[str, Callable[[_Build], None]] = {
    "load": _load,  # spec, extends merged -> spec.resolved.yaml
    "elaborate": _elaborate,  # graph IR -> graph.json (build only)
    "check": _check,  # static shape and channel checks; warnings noted
    "render": _render,  # blocks-level diagram.dot (+ diagram.svg)
    "cost": _cost,  # params, MACs, activations -> summary.md (build only)
    "compile": _compile,  # torch module (torch imported here) -> model.safetensors (build)
    "export": _export,  # torch.export, batch dynamic -> model.pt2, checked
    "trace": _trace,  # torch.export, batch dynamic: the one program an export writes from
    "write": _publish,  # manifest.json; staging folder renamed into place
}
"""Each step's action; every target (`onnx`, ...) is one more step, written from the program
the `export` or `trace` step made, loaded back and compared (`_target_step`)."""


# -- the manifest ----------------------------------------------------------------------------


def manifest(b: _Build) -> dict[str, Any]:
    """`manifest.json`: versions, inputs, totals, per-step seconds, every file's sha256, and
    with targets the batch range, precision and each target's files and check."""
    assert b.staging is not None and b.cost is not None
    data = {
        "name": b.cost.name,
        "spec": b.ref,
        "overrides": list(b.overrides),
        "versions": _versions(b.targets),
        "seed": b.seed,
        "weights": _weights_entry(b.weights, b.graph if b.reinit_head else None),
        "params": b.cost.params,
        "macs": b.cost.macs,
        "seconds": {name: round(s, 3) for name, s in b.seconds.items()},
        "files": {
            p.relative_to(b.staging).as_posix(): sha256(p)
            for p in sorted(b.staging.rglob("*"))
            if p.is_file() and p.relative_to(b.staging).as_posix() != MANIFEST
        },
        "notes": b.notes,
    }
    if b.targets:
        data["batch"] = b.batch.as_json()
        data["precision"] = b.precision
        data["preprocessing"] = preprocessing(b.spec)
        if b.samples is not None:
            data["calibration"] = {**b.samples.as_json(), "min_agreement": b.min_agreement}
        data["targets"] = b.reports
    if b.targets or b.image_size:
        data["image_size"] = b.image_size.as_json() if b.image_size else "fixed"
    return data


def preprocessing(spec: Spec | None) -> dict[str, Any] | None:
    """The spec's `preprocess` as recorded with deployed files, the crop as [height, width]
    (the input's when unset); None when the spec says none."""
    from resnet_spec.calibration import preprocessing as recorded

    return None if spec is None else recorded(spec)


def _versions(targets: tuple[str, ...] = ()) -> dict[str, str]:
    versions = {
        "resnet_spec": __version__,
        "torch": _version("torch") or "unknown",
        "python": platform.python_version(),
    }
    for package in (p for t in targets for p in RUNTIMES[t]):
        found = _version(package)
        if found is not None:
            versions[package.replace("-", "_")] = found
    return versions


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _weights_entry(weights: Path | None, reinit: Graph | None = None) -> dict[str, Any] | None:
    """The file's path and sha256; with --reinit-head, the keys initialized from the seed."""
    if weights is None:
        return None
    entry: dict[str, Any] = {"path": os.fspath(weights), "sha256": sha256(weights)}
    if reinit is not None:
        entry["reinit_head"] = [key for node in reinit.classifier() for key in node.params()]
    return entry


def sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks (a `.pt2` can be hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _result(b: _Build) -> BuildResult:
    assert b.out is not None and b.cost is not None
    return BuildResult(
        name=b.cost.name, out=b.out, params=b.cost.params, macs=b.cost.macs,
        files=b.files, seconds=b.seconds, notes=b.notes,
    )
