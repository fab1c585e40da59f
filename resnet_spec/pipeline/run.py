"""`resnet-spec build` and `export`: the pipeline into one folder, written whole or not at all.

A build is the straight sequence in `_run`: load, elaborate, check, render, cost, compile,
export (an export: trace), one step per deployment target (`--to onnx,openvino,...`), write.
Each step is a function that takes what it needs and returns what it made, run by `Steps`
(`resnet_spec.pipeline.steps`: the hooks, the timing, the notes). Every file is written into a
hidden staging folder beside the output folder; the last step writes `manifest.json`
(`resnet_spec.pipeline.manifest`) and swaps the staging folder into place with one rename
(`resnet_spec.pipeline.outdir`). A build that fails or is killed at any moment therefore leaves
either no output folder or the previous complete one. torch is imported only from the compile step
on (and, when targets are asked for, to see before any step whether this machine has them).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from resnet_spec.deploy.image_size import ImageSizes, total_stride
from resnet_spec.deploy.options import (
    DEFAULT_BATCH,
    DEFAULT_MIN_AGREEMENT,
    TARGETS,
    BatchRange,
    OptionError,
    TargetUnavailable,
    in_order,
)
from resnet_spec.deploy.tensorrt_handoff import (
    HANDOFF_FILE,
    handoff_script,
    tensorrt_handoff,
    weights_options,
)
from resnet_spec.ir import Graph
from resnet_spec.ir.cost import GraphCost
from resnet_spec.pipeline.manifest import BuildRecord, manifest, preprocessing
from resnet_spec.pipeline.options import (
    BuildOptions,
    Hooks,
    NoteHook,
    ProgressHook,
    StepHook,
    check_options,
)
from resnet_spec.pipeline.outdir import MANIFEST, StagedFolder, check_target, staged
from resnet_spec.pipeline.steps import Notes, Steps
from resnet_spec.spec.loader import SpecInput, load, spec_ref
from resnet_spec.spec.resolved import resolved_dict, resolved_yaml
from resnet_spec.spec.schema import Spec

__all__ = ["EXPORT_STEPS", "STEPS", "BuildOptions", "BuildResult", "Hooks", "run_build",
           "run_export"]

STEPS = ("load", "elaborate", "check", "render", "cost", "compile", "export", "write")
"""The steps of a plain `build`; each target asked for with `--to` adds one before `write`."""
EXPORT_STEPS = ("load", "elaborate", "check", "cost", "compile", "trace", "write")
"""The steps of `export`, the targets' steps before `write`."""


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
    options: BuildOptions | None = None,
    hooks: Hooks | None = None,
) -> BuildResult:
    """Build `spec` (a path, a built-in name, a dict or a `Spec`, with `--set`'s `overrides`)
    into `out` (default `build/<name>/`), adding the deployment `targets` (`onnx`,
    `openvino`, `tensorrt`, `triton`; the build always writes `model.pt2`) at `precision`,
    for batches in `batch`. `reinit_head` loads `weights` into everything but the
    classifier, which starts from `seed` (fine-tuning). `on_step`, `on_progress` and
    `on_note` hear of each step, of what a long step is doing, and of anything the user
    should know. At int8, `calibration` (a folder of images, a .npy/.npz, or `random`) is
    what the files are calibrated on, every fifth sample held out to judge them against
    `min_agreement`. The options may instead come as one `options` (`BuildOptions`) and the
    hooks as `hooks` (`Hooks`)."""
    given = _options(options, seed=seed, weights=weights, targets=targets, batch=batch,
                     precision=precision, triton_backend=triton_backend, overrides=overrides,
                     reinit_head=reinit_head, calibration=calibration,
                     min_agreement=min_agreement, aoti_device=aoti_device,
                     image_size=image_size)
    chosen = tuple(t for t in in_order(given.targets) if t != "pt2")
    return _run(spec, out, given, _hooks(hooks, on_step, on_note, on_progress), chosen,
                full=True)


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
    options: BuildOptions | None = None,
    hooks: Hooks | None = None,
) -> BuildResult:
    """Export `spec` (as `run_build` takes it) to `targets` (any of pt2, onnx, openvino,
    aoti, tensorrt, triton) into `out` (default `build/<name>-<targets>/`): the target files,
    `spec.resolved.yaml` and the manifest, nothing else. The options and hooks are
    `run_build`'s (with `options`, its `targets` are these `targets`)."""
    given = _options(options, seed=seed, weights=weights, targets=targets, batch=batch,
                     precision=precision, triton_backend=triton_backend, overrides=overrides,
                     reinit_head=reinit_head, calibration=calibration,
                     min_agreement=min_agreement, aoti_device=aoti_device,
                     image_size=image_size, exporting=True)
    chosen = in_order(given.targets)
    if not chosen:
        raise OptionError(f"export needs at least one target: {', '.join(TARGETS)}")
    return _run(spec, out, given, _hooks(hooks, on_step, on_note, on_progress), chosen,
                full=False)


def _options(options: BuildOptions | None, *, weights: str | os.PathLike[str] | None,
             targets: Sequence[str], overrides: Sequence[str], exporting: bool = False,
             **given: Any) -> BuildOptions:
    """The keyword options as one `BuildOptions`, or `options` where the keywords are all
    left at their defaults (an export's `targets` always come as its argument)."""
    keywords = BuildOptions(weights=Path(weights) if weights is not None else None,
                            targets=tuple(targets), overrides=tuple(overrides), **given)
    if options is None:
        return keywords
    defaults = BuildOptions(targets=keywords.targets) if exporting else BuildOptions()
    if keywords != defaults:
        raise TypeError("give the options as keywords or as one BuildOptions, not both")
    return replace(options, targets=keywords.targets) if exporting else options


def _hooks(hooks: Hooks | None, on_step: StepHook | None, on_note: NoteHook | None,
           on_progress: ProgressHook | None) -> Hooks:
    if hooks is None:
        return Hooks.of(on_step, on_note, on_progress)
    if (on_step, on_note, on_progress) != (None, None, None):
        raise TypeError("give the hooks as on_step/on_note/on_progress or as one Hooks, "
                        "not both")
    return hooks


@dataclass(frozen=True)
class _HandedOff:
    """TensorRT, missing here but asked for beside onnx: its step is left out, and the hand-off
    script goes beside model.onnx instead."""

    script: str
    why: str

    def report(self) -> dict[str, Any]:
        return {"built": False, "why": self.why, "handoff": HANDOFF_FILE}


@dataclass(frozen=True)
class _Ready:
    """What is known before the first step: the targets this machine builds, in order."""

    targets: tuple[str, ...]
    spec: Spec | None = None
    """The spec, loaded before the steps when targets are asked for (a bad spec is reported
    before the runtimes are imported); None: the load step loads it."""
    handoff: _HandedOff | None = None
    samples: Any = None
    """int8: the loaded calibration samples (`resnet_spec.deploy.calibration.Calibration`)."""


def _run(given: SpecInput, out: str | os.PathLike[str] | None, options: BuildOptions,
         hooks: Hooks, targets: tuple[str, ...], *, full: bool) -> BuildResult:
    """The build (`full`) or export of `given` to `targets` (in build order), step by step."""
    check_options(options, targets)
    out_path = check_target(Path(out)) if out is not None else None
    ref = spec_ref(given)
    notes = Notes(hooks)
    ready = _prepare(given, ref, options, targets, notes)
    names = (*(STEPS if full else EXPORT_STEPS)[:-1], *ready.targets, "write")
    steps = Steps(names, hooks, notes)
    with ExitStack() as stack:
        spec, folder = steps.run("load", lambda: _load(
            ready.spec or load(given, options.overrides), out_path, ready.targets, full, stack))
        graph = steps.run("elaborate", lambda: _elaborate(spec, folder, full))
        steps.run("check", lambda: _check(graph, spec, notes))
        if full:
            steps.run("render", lambda: _render(graph, folder, notes))
        cost, sizes = steps.run("cost", lambda: _cost(graph, folder, full, options.image_size,
                                                      notes))
        module = steps.run("compile", lambda: _compile(graph, cost, folder, options,
                                                       ready.targets, full, notes))
        if full:
            program, reference = steps.run("export", lambda: _export(module, graph, folder,
                                                                     sizes, steps, notes))
        else:
            program, reference = steps.run("trace", lambda: _trace(module, graph, sizes, steps))
        job = cache(lambda: _job(spec, graph, module, program, reference, folder, options,
                                 sizes, ready.samples, steps, notes))
        reports = {"tensorrt": ready.handoff.report()} if ready.handoff is not None else {}
        for name in ready.targets:
            reports[name] = steps.run(name, lambda name=name: _target(name, job()))
        record = BuildRecord(spec, graph, cost, sizes, ready.targets, reports, ready.samples)
        files = steps.run("write", lambda: _publish(ref, options, record, folder,
                                                    ready.handoff, dict(steps.seconds), notes))
    return BuildResult(name=cost.name, out=folder.out, params=cost.params, macs=cost.macs,
                       files=files, seconds=steps.seconds, notes=notes.lines)


# -- before the steps ------------------------------------------------------------------------


def _prepare(given: SpecInput, ref: str, options: BuildOptions, targets: tuple[str, ...],
             notes: Notes) -> _Ready:
    """TargetUnavailable, before any step and any file, for the first target this machine
    cannot build; for TensorRT it also gives the hand-off from the onnx target. The
    calibration samples are read here too (a bad file costs no export)."""
    if not targets:
        return _Ready(targets)
    # a bad spec is reported before the targets' runtimes are imported (seconds), and before a
    # missing runtime: what the user must fix first
    spec = load(given, options.overrides)
    from resnet_spec.compiler.targets import target

    handoff = None
    for name in targets:
        lacking = target(name).missing(*((options.aoti_device,) if name == "aoti" else ()))
        if lacking is None and options.precision == "int8" and _runs_openvino(options, name):
            from resnet_spec.compiler.targets.quantize import nncf_missing

            lacking = nncf_missing()
        if lacking is None:
            continue
        if name == "tensorrt" and "onnx" in targets and options.triton_backend != "tensorrt":
            # the onnx target is what a GPU machine builds the engine from: write it, and
            # the command that does, instead of nothing
            handoff = _HandedOff(handoff_script(spec, options.batch, options.precision),
                                 lacking)
            continue
        if name == "tensorrt":
            lacking += ". " + tensorrt_handoff(ref, options.batch, options.precision, given,
                                               options.overrides, weights_options(options))
        raise TargetUnavailable(lacking)
    built = tuple(t for t in targets if handoff is None or t != "tensorrt")
    if options.triton_backend == "tensorrt" and "tensorrt" not in built:
        raise OptionError("--triton-backend tensorrt packages the engine this build makes: "
                         "add tensorrt to --to")
    samples = _calibration(options, spec, notes) if options.calibration is not None else None
    return _Ready(built, spec, handoff, samples)


def _runs_openvino(options: BuildOptions, name: str) -> bool:
    return name == "openvino" or (name == "triton" and options.triton_backend == "openvino")


def _calibration(options: BuildOptions, spec: Spec, notes: Notes) -> Any:
    """The calibration samples, said loudly when they are random."""
    from resnet_spec.deploy.calibration import RANDOM_WARNING, load_calibration

    samples = load_calibration(options.calibration, spec)
    if not samples.judged:
        notes.announce(f"WARNING: {RANDOM_WARNING}")
    return samples


# -- the steps ------------------------------------------------------------------------------


def _load(spec: Spec, out: Path | None, targets: tuple[str, ...], full: bool,
          stack: ExitStack) -> tuple[Spec, StagedFolder]:
    """The output folder opened (removed again when the build fails), and
    spec.resolved.yaml written and read back."""
    default = spec.name if full else "-".join((spec.name, *targets))
    folder = stack.enter_context(staged(out or Path("build") / default))
    path = folder.write("spec.resolved.yaml", resolved_yaml(spec))
    # the resolved spec must stand on its own: re-read it and expect the same settings
    if resolved_dict(load(path)) != resolved_dict(spec):
        raise RuntimeError("spec.resolved.yaml does not read back as the spec it came from")
    return spec, folder


def _elaborate(spec: Spec, folder: StagedFolder, full: bool) -> Graph:
    from resnet_spec.elaboration import elaborate_unchecked

    graph = elaborate_unchecked(spec)
    if full:
        folder.write("graph.json", json.dumps(graph.to_json(), indent=2) + "\n")
    return graph


def _check(graph: Graph, spec: Spec, notes: Notes) -> None:
    from resnet_spec.ir.check import verify

    verify(graph, spec.source)
    for warning in graph.warnings:
        notes.add(warning)


def _render(graph: Graph, folder: StagedFolder, notes: Notes) -> None:
    from resnet_spec import render

    dot = render.to_dot(graph, level="blocks")
    folder.write("diagram.dot", dot)
    try:
        folder.write("diagram.svg", render.render(dot, "svg"))
    except render.RenderError as err:
        notes.add(f"diagram.svg skipped (diagram.dot written): {err}")


def _cost(graph: Graph, folder: StagedFolder, full: bool, image_size: ImageSizes | None,
          notes: Notes) -> tuple[GraphCost, ImageSizes | None]:
    """The costs (summary.md), and `--image-size` fitted to the network's total stride: the
    stride is known from here, so bad sizes are refused before torch."""
    from resnet_spec.ir import cost

    costs = cost.analyze(graph)
    if full:
        folder.write("summary.md", cost.to_markdown(costs))
    if image_size is None:
        return costs, None
    _, height, width = graph.input_shape
    fitted = image_size.for_graph(total_stride(costs), height, width, graph.name)
    notes.add(f"--image-size {fitted}: the files take {fitted.valid()}")
    return costs, fitted


def _compile(graph: Graph, costs: GraphCost, folder: StagedFolder, options: BuildOptions,
             targets: tuple[str, ...], full: bool, notes: Notes) -> Any:
    """The eval-mode torch module (model.safetensors)."""
    from resnet_spec.pipeline.memory import check_fits, pipeline_workload

    # before torch is even imported: refuse what will not fit, with the batches and targets
    # this run will really check
    check_fits(graph, costs, workload=pipeline_workload(
        targets, options.batch.check_batches(), full=full,
        weights_file=options.weights is not None))
    from resnet_spec.compiler import compile_graph
    from resnet_spec.compiler.export import save_safetensors

    # torchvision-named state for model.safetensors: not the folded `for_inference` module
    module = compile_graph(graph, weights=options.weights, seed=options.seed,
                           reinit_head=options.reinit_head, on_note=notes.add).eval()
    if full:
        save_safetensors(module, folder.path("model.safetensors"))
    return module


def _export(module: Any, graph: Graph, folder: StagedFolder, sizes: ImageSizes | None,
            steps: Steps, notes: Notes) -> tuple[Any, dict[int, Any]]:
    """The program (model.pt2, loaded back and checked), and the module's outputs at the check
    batches, which the targets' checks reuse."""
    from resnet_spec.compiler.export import export_pt2, nonfinite_note

    reference: dict[int, Any] = {}
    program = export_pt2(module, graph, folder.path("model.pt2"), keep=reference,
                         progress=steps.progress, sizes=sizes)
    note = nonfinite_note(reference)
    if note is not None:
        notes.add(note)
    return program, reference


def _trace(module: Any, graph: Graph, sizes: ImageSizes | None, steps: Steps
           ) -> tuple[Any, dict[int, Any]]:
    """The program an export writes its targets from (no reference outputs: the targets'
    checks run the module themselves)."""
    from resnet_spec.compiler.export import export_program

    steps.progress("exporting")
    return export_program(module, graph, sizes), {}


def _job(spec: Spec, graph: Graph, module: Any, program: Any, reference: dict[int, Any],
         folder: StagedFolder, options: BuildOptions, sizes: ImageSizes | None, samples: Any,
         steps: Steps, notes: Notes) -> Any:
    """The targets' `Job`, made in the first target's step."""
    from resnet_spec.compiler.targets import Job
    from resnet_spec.compiler.targets.check import remember
    from resnet_spec.deploy.calibration import crop_mismatch

    job = Job(graph, module, program, folder.staging, batch=options.batch,
              precision=options.precision, triton_backend=options.triton_backend,
              note=notes.add, progress=steps.progress, calibration=samples,
              min_agreement=options.min_agreement, preprocessing=preprocessing(spec),
              aoti_device=options.aoti_device, image_size=sizes)
    line = crop_mismatch(spec)
    if line is not None:
        notes.add(line)
    remember(job, reference)
    return job


def _target(name: str, job: Any) -> dict[str, Any]:
    """One target's files, written from the program the `export` or `trace` step made,
    loaded back and compared; its manifest entry."""
    from resnet_spec.compiler.targets import target

    return target(name).build(job)


def _publish(ref: str, options: BuildOptions, record: BuildRecord, folder: StagedFolder,
             handoff: _HandedOff | None, seconds: dict[str, float], notes: Notes
             ) -> dict[str, str]:
    """manifest.json written, the folder moved into place; every file's sha256."""
    if handoff is not None:
        folder.write(HANDOFF_FILE, handoff.script)
        notes.add(f"tensorrt: not built here ({handoff.why}); "
                  f"{folder.out}/model.onnx is written, and on a GPU machine with trtexec this "
                  f"builds model.engine from it: "
                  f"sh {shlex.quote(str(folder.out / HANDOFF_FILE))}")
    data = manifest(ref, options, record, folder.staging, seconds, notes.lines)
    folder.write(MANIFEST, json.dumps(data, indent=2) + "\n")
    leftover = folder.publish()
    if leftover is not None:
        notes.add(leftover)
    return data["files"]

