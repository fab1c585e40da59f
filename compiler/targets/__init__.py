"""Deployment targets: the one exported program written in each runtime's own format.

Every target is one module here with the same two functions: `missing()` (what this machine
lacks to build it, or None) and `build(job)`, which writes the target's files into
`job.folder`, loads them back in the target's own runtime, compares them with the torch module
(`check.py`) and returns the target's manifest entry. No target traces the model again: each
starts from `job.program`, the `ExportedProgram` the build made and verified once; the
converters (ONNX, OpenVINO, TensorRT) take `job.converter_program`, that program with its norms
folded into the convs by a graph rewrite (`passes/program.py`), which halves their own retrace.
Names, precisions and the batch range are the front end's (`resnet_spec.deploy`). The
runtimes' own telemetry is turned off before any target is reached (`compiler/telemetry.py`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from resnet_spec.compiler.targets.job import Job
from resnet_spec.compiler.telemetry import quiet_runtimes
from resnet_spec.deploy import TARGETS, OptionError

__all__ = ["Job", "target"]


def target(name: str) -> ModuleType:
    """The module of the target `name` (one of `resnet_spec.deploy.TARGETS`)."""
    if name not in TARGETS:
        raise OptionError(f"unknown target {name!r}; the targets are {', '.join(TARGETS)}")
    quiet_runtimes()  # before a target imports its runtime (openvino reports on import)
    return importlib.import_module(f"resnet_spec.compiler.targets.{name}")
