"""Deployment targets: the one exported program written in each runtime's own format.

Every target is one module here with the same two functions: `missing()` (what this machine
lacks to build it, or None) and `build(job)`, which writes the target's files into
`job.folder`, loads them back in the target's own runtime, compares them with the torch module
(`check.py`) and returns the target's manifest entry: a dict ready for JSON, since it goes into
`manifest.json` as it is (docs/deploy.md lists its keys). What a target makes for a later one
is a typed field of `job.made` (`job.py`). No target traces the model again: each starts from
`job.program`, the `ExportedProgram` the build made and verified once; the converters (ONNX,
OpenVINO, TensorRT) take `job.converter_program`, that program with its norms folded into the
convs by a graph rewrite (`passes/program.py`), which halves their own retrace. Each target's
facts (its name and place in a build, precisions, `--image-size`, the runtime packages the
manifest records) are its registration in the front end (`resnet_spec.deploy.targets`); the options
and the batch range are `resnet_spec.deploy.options`'s. The runtimes' own telemetry is turned off
before any target is reached (`compiler/telemetry.py`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from resnet_spec.compiler.targets.job import Job
from resnet_spec.compiler.telemetry import quiet_runtimes
from resnet_spec.deploy.options import TARGETS, OptionError
from resnet_spec.deploy.targets import registered

__all__ = ["Job", "target"]


def target(name: str) -> ModuleType:
    """The module that builds the target `name` (its registration's `module`)."""
    if name not in TARGETS:
        raise OptionError(f"unknown target {name!r}; the targets are {', '.join(TARGETS)}")
    quiet_runtimes()  # before a target imports its runtime (openvino reports on import)
    return importlib.import_module(registered(name).module)
