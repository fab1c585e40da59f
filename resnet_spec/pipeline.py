"""`resnet-spec build`: the whole pipeline into one folder, written whole or not at all.

The steps run in a fixed order, one call each (see `run_build`). Every file is written into a
hidden staging folder beside the output folder; the last step writes `manifest.json` and swaps
the staging folder into place with one rename (`resnet_spec.outdir`). A build that fails or is
killed at any moment therefore leaves either no output folder or the previous complete one.
torch is imported only by the compile and export steps.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from resnet_spec.ir import Graph
from resnet_spec.loader import load
from resnet_spec.outdir import (
    MANIFEST,
    check_target,
    discard,
    open_staging,
    open_to_umask,
    swap_into_place,
    write_file,
)
from resnet_spec.resolved import resolved_dict, resolved_yaml
from resnet_spec.schema import Spec
from resnet_spec.version import __version__

STEPS = ("load", "elaborate", "check", "render", "cost", "compile", "export", "write")

StepHook = Callable[[int, int, str, "float | None"], None]
"""Called as each step starts (seconds None) and ends, with its 1-based index, the step count,
its name and its seconds; a step that raises ends with seconds -1."""
NoteHook = Callable[[str], None]
"""Called with one line for something the user should know (a warning, a skipped file)."""


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
    out: Path | None
    seed: int
    weights: Path | None
    on_step: StepHook
    on_note: NoteHook
    staging: Path | None = None
    replace: bool = False
    """Whether a folder was at `out` when the build began (only then is one replaced)."""
    spec: Spec | None = None
    graph: Graph | None = None
    cost: Any = None
    module: Any = None
    files: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _noted: int = 0

    def step(self, name: str, action: Callable[[_Build], None]) -> None:
        index = STEPS.index(name) + 1
        self.on_step(index, len(STEPS), name, None)
        start = time.perf_counter()
        try:
            action(self)
        except BaseException:
            self.on_step(index, len(STEPS), name, -1.0)
            raise
        self.seconds[name] = time.perf_counter() - start
        self.on_step(index, len(STEPS), name, self.seconds[name])
        for line in self.notes[self._noted:]:  # after the step's line, not inside it
            self.on_note(line)
        self._noted = len(self.notes)

    def note(self, line: str) -> None:
        self.notes.append(line)

    def write(self, filename: str, content: str | bytes) -> Path:
        path = self.staged(filename)
        write_file(path, content.encode("utf-8") if isinstance(content, str) else content)
        return path

    def staged(self, filename: str) -> Path:
        assert self.staging is not None, "the load step opens the staging folder"
        return self.staging / filename


def run_build(
    spec: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    weights: str | os.PathLike[str] | None = None,
    on_step: StepHook | None = None,
    on_note: NoteHook | None = None,
) -> BuildResult:
    """Build `spec` (a path or built-in name) into `out` (default `build/<name>/`)."""
    b = _Build(
        ref=os.fspath(spec),
        out=check_target(Path(out)) if out is not None else None,
        seed=seed,
        weights=Path(weights) if weights is not None else None,
        on_step=on_step or (lambda *_: None),
        on_note=on_note or (lambda _: None),
    )
    try:
        b.step("load", _load)  # spec, extends merged -> spec.resolved.yaml
        b.step("elaborate", _elaborate)  # graph IR -> graph.json
        b.step("check", _check)  # static shape and channel checks; warnings noted
        b.step("render", _render)  # blocks-level diagram.dot (+ diagram.svg)
        b.step("cost", _cost)  # params, MACs, activations -> summary.md
        b.step("compile", _compile)  # torch module (torch imported here) -> model.safetensors
        b.step("export", _export)  # torch.export, batch dynamic -> model.pt2, checked
        b.step("write", _publish)  # manifest.json; staging folder renamed into place
    finally:
        discard(b.staging)
    return _result(b)


# -- the steps ------------------------------------------------------------------------------


def _load(b: _Build) -> None:
    b.spec = load(b.ref)
    b.out = check_target(b.out or Path("build") / b.spec.name)
    b.replace = b.out.exists()
    b.staging = open_staging(b.out)
    path = b.write("spec.resolved.yaml", resolved_yaml(b.spec))
    # the resolved spec must stand on its own: re-read it and expect the same settings
    if resolved_dict(load(path)) != resolved_dict(b.spec):
        raise RuntimeError("spec.resolved.yaml does not read back as the spec it came from")


def _elaborate(b: _Build) -> None:
    from resnet_spec.elaboration import elaborate_unchecked

    assert b.spec is not None
    b.graph = elaborate_unchecked(b.spec)
    b.write("graph.json", json.dumps(b.graph.to_json(), indent=2) + "\n")


def _check(b: _Build) -> None:
    from resnet_spec.check import verify

    assert b.graph is not None
    verify(b.graph)
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
    b.write("summary.md", cost.to_markdown(b.cost))


def _compile(b: _Build) -> None:
    from resnet_spec.build_memory import check_fits

    check_fits(b.graph, b.cost)  # before torch is even imported: refuse what will not fit
    from resnet_spec.compiler import compile_graph
    from resnet_spec.compiler.export import save_safetensors

    b.module = compile_graph(b.graph, weights=b.weights, seed=b.seed, for_inference=True)
    save_safetensors(b.module, b.staged("model.safetensors"))


def _export(b: _Build) -> None:
    from resnet_spec.compiler.export import export_pt2

    assert b.graph is not None
    export_pt2(b.module, b.graph, b.staged("model.pt2"))


def _publish(b: _Build) -> None:
    assert b.staging is not None and b.out is not None
    data = manifest(b)
    b.files = data["files"]
    b.write(MANIFEST, json.dumps(data, indent=2) + "\n")
    open_to_umask(b.staging)
    swap_into_place(b.staging, b.out, replace=b.replace)
    b.staging = None


# -- the manifest ----------------------------------------------------------------------------


def manifest(b: _Build) -> dict[str, Any]:
    """`manifest.json`: versions, inputs, totals, per-step seconds, every file's sha256."""
    assert b.staging is not None and b.cost is not None
    return {
        "name": b.cost.name,
        "spec": b.ref,
        "versions": _versions(),
        "seed": b.seed,
        "weights": _weights_entry(b.weights),
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


def _versions() -> dict[str, str]:
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "unknown"
    return {
        "resnet_spec": __version__,
        "torch": torch_version,
        "python": platform.python_version(),
    }


def _weights_entry(weights: Path | None) -> dict[str, str] | None:
    if weights is None:
        return None
    return {"path": os.fspath(weights), "sha256": sha256(weights)}


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
