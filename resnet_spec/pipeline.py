"""`resnet-spec build`: the whole pipeline into one folder, written whole or not at all.

The steps run in a fixed order, one call each (see `run_build`). Every file is written into a
hidden staging folder beside the output folder; the last step writes `manifest.json` and swaps
the staging folder into place with one rename. A build that fails or is killed at any moment
therefore leaves either no output folder or the previous complete one. torch is imported only
by the compile and export steps.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

import resnet_spec
from resnet_spec.errors import SpecError
from resnet_spec.ir import Graph
from resnet_spec.loader import load
from resnet_spec.schema import Spec

STEPS = ("load", "elaborate", "check", "render", "cost", "compile", "export", "write")
MANIFEST = "manifest.json"

StepHook = Callable[[int, int, str, "float | None"], None]
"""Called as each step starts (seconds None) and ends, with its 1-based index, the step count,
its name and its seconds; a step that raises ends with seconds -1."""
NoteHook = Callable[[str], None]
"""Called with one line for something the user should know (a warning, a skipped file)."""


class OutputError(SpecError):
    """The output folder cannot be written: it is a file, or its parent cannot be created."""


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
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(data)
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
        _discard(b.staging)
    return _result(b)


# -- the steps ------------------------------------------------------------------------------


def _load(b: _Build) -> None:
    b.spec = load(b.ref)
    b.out = check_target(b.out or Path("build") / b.spec.name)
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
    from resnet_spec.check import check_graph, raise_errors

    assert b.graph is not None
    findings = check_graph(b.graph)
    raise_errors(findings)
    b.graph.warnings = [str(f) for f in findings if f.severity == "warning"]
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
    from compiler.export import save_safetensors

    b.module = resnet_spec.build(b.graph, weights=b.weights, seed=b.seed, for_inference=True)
    save_safetensors(b.module, b.staged("model.safetensors"))


def _export(b: _Build) -> None:
    from compiler.export import export_pt2

    assert b.graph is not None
    export_pt2(b.module, b.graph, b.staged("model.pt2"))


def _publish(b: _Build) -> None:
    assert b.staging is not None and b.out is not None
    data = manifest(b)
    b.files = data["files"]
    b.write(MANIFEST, json.dumps(data, indent=2) + "\n")
    _open_to_umask(b.staging)
    swap_into_place(b.staging, b.out)
    b.staging = None


# -- the resolved spec -----------------------------------------------------------------------


def resolved_dict(spec: Spec) -> dict[str, Any]:
    """The spec as plain data with every default written out and nothing left to inherit."""
    data = spec.model_dump(mode="json", exclude={"extends"})
    data["block"]["expansion"] = spec.block.out_expansion
    for index, stage in enumerate(data["stages"]):
        stage["shortcut"] = spec.stage_shortcut(index).value
        stage["block"] = {k: v for k, v in stage["block"].items() if v is not None}
        if not stage["block"]:
            del stage["block"]
    if data["head"] is None:
        data["head"] = "none"
    return _drop_nones(data)


def _drop_nones(value: Any) -> Any:
    """Leave out unset optional fields (`se`, `features`, `widths`): absent means unset."""
    if isinstance(value, dict):
        return {k: _drop_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nones(v) for v in value]
    return value


def resolved_yaml(spec: Spec) -> str:
    """`spec.resolved.yaml`: the resolved spec, one flow mapping per stage, keys in schema order."""
    header = f"# {spec.name}, resolved by resnet-spec {resnet_spec.__version__}: extends merged, "
    body = yaml.safe_dump(
        resolved_dict(spec), sort_keys=False, default_flow_style=None, allow_unicode=True,
        width=4096,
    )
    return header + "defaults written out\n" + body


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
        "files": {p.name: sha256(p) for p in sorted(b.staging.iterdir()) if p.name != MANIFEST},
        "notes": b.notes,
    }


def _versions() -> dict[str, str]:
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "unknown"
    return {
        "resnet_spec": resnet_spec.__version__,
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


# -- the output folder, written whole or not at all --------------------------------------------


def check_target(out: Path) -> Path:
    """`out` as an output folder: an error if a file (not a folder) is in the way."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: a file is in the way; the output is a folder")
    return out


def _staging_prefix(target: Path) -> str:
    return f".{target.name}.build-"


def open_staging(target: Path) -> Path:
    """A fresh hidden folder beside `target`, on the same file system so renames are atomic."""
    parent = target.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(target)
        staging = tempfile.mkdtemp(prefix=f"{_staging_prefix(target)}{os.getpid()}-", dir=parent)
    except OSError as err:
        raise OutputError(f"cannot write beside {target}: {err.strerror or err}") from err
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would outlive the rename
    return Path(staging)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _open_to_umask(folder: Path) -> None:
    """Give every file the mode a plain `open` would (some writers create them 0600)."""
    mode = 0o666 & ~_umask()
    for path in folder.iterdir():
        path.chmod(mode)


def remove_stale_staging(target: Path) -> None:
    """Delete staging folders of earlier builds of `target` whose process no longer runs."""
    prefix = _staging_prefix(target)
    for path in target.absolute().parent.glob(prefix + "*"):
        pid = path.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def swap_into_place(staging: Path, target: Path) -> None:
    """Make `staging` the folder at `target`; the previous one, if any, is removed after."""
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging)  # now holds the previous build
        return
    # no atomic exchange here: a kill between these renames leaves no folder at `target`
    old = staging.with_name(staging.name + ".old")
    os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False if unable."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(result == 0)


def _discard(staging: Path | None) -> None:
    if staging is not None and staging.exists():
        shutil.rmtree(staging, ignore_errors=True)
