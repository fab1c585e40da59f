"""The TensorRT hand-off where this machine cannot build the engine: the commands that build it
on a GPU machine from the onnx target, as a message (`tensorrt_handoff`) or as the script
`build --to onnx,tensorrt` writes beside model.onnx (`handoff_script`)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

from resnet_spec.deploy.options import BatchRange, trtexec_command
from resnet_spec.pipeline.options import BuildOptions
from resnet_spec.spec.loader import SpecInput, load
from resnet_spec.spec.schema import Spec

HANDOFF_FILE = "tensorrt.sh"
"""The script `build --to onnx,tensorrt` writes beside model.onnx where TensorRT is missing."""


def weights_options(options: BuildOptions) -> str:
    """The options that give the hand-off's export this build's weights (else it would export
    random ones)."""
    if options.weights is None:
        return f" --seed {options.seed}" if options.seed else ""
    reinit = f" --reinit-head --seed {options.seed}" if options.reinit_head else ""
    return f" --weights {shlex.quote(os.fspath(options.weights))}{reinit}"


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
