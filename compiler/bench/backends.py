"""Each bench backend: how to load it from the prepared folder and run one batch.

`load` returns a function that runs the model once on a batch and waits for the result;
`missing` says why a backend cannot run here (None when it can).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SPEC, WEIGHTS = "spec.resolved.yaml", "model.safetensors"
BACKENDS = ("eager", "inference", "compile", "onnxruntime", "openvino", "aoti", "tensorrt")
DESCRIPTIONS = {
    "eager": "the compiled module in eval mode (torchvision's layers and weights)",
    "inference": "build(..., for_inference=True): norms folded, dropout dropped, channels_last",
    "compile": "torch.compile of the inference module (inductor)",
    "onnxruntime": "model.onnx in onnxruntime, every graph optimization on",
    "openvino": "openvino/model.xml on the CPU, precision hint explicit",
    "aoti": "model.aoti.pt2, the AOTInductor package (CPU, freezing)",
    "tensorrt": "a TensorRT engine from torch-tensorrt (CUDA)",
}
NEEDS = {"onnxruntime": "onnxruntime", "openvino": "openvino"}
FILE_TARGETS = {"onnxruntime": "onnx", "openvino": "openvino", "aoti": "aoti"}
"""The backends that load a target's files, which `prepare` writes and checks."""


def missing(backend: str) -> str | None:
    """Why `backend` cannot run on this machine, or None."""
    if backend == "tensorrt":
        from resnet_spec.compiler.targets import tensorrt

        return tensorrt.missing()
    if backend == "aoti":
        from resnet_spec.compiler.targets import aoti

        return aoti.missing()
    package = NEEDS.get(backend)
    if package is not None and importlib.util.find_spec(package) is None:
        extra = "openvino" if backend == "openvino" else "dev"
        return f"{package} is not installed (pip install 'resnet-spec[{extra}]')"
    if backend == "compile":
        return _compiler_missing()
    return None


def _compiler_missing() -> str | None:
    import shutil

    if not any(shutil.which(cc) for cc in ("cc", "gcc", "clang", "g++")):
        return "torch.compile (inductor) needs a C++ compiler, and none is on PATH"
    return None


def _module(folder: Path, for_inference: bool) -> Any:
    from resnet_spec.compiler import compile_graph

    module = compile_graph(_graph(folder), weights=folder / WEIGHTS,
                           for_inference=for_inference)
    return module.eval()


def _graph(folder: Path) -> Any:
    from resnet_spec.elaboration import elaborate
    from resnet_spec.spec.loader import load

    return elaborate(load(folder / SPEC))


Run = Callable[[np.ndarray], Any]
"""One forward pass of a batch, finished when it returns."""


def _torch_run(module: Any, device: str = "cpu") -> Run:
    import torch

    def run(x: np.ndarray) -> Any:
        with torch.inference_mode():
            out = module(torch.from_numpy(x).to(device))
        if device != "cpu":
            torch.cuda.synchronize()
        return out

    return run


def load(backend: str, folder: Path, threads: int, precision: str,
         batches: tuple[int, ...]) -> Run:
    """`backend` loaded from the files in `folder`, ready to run batches of `batches` sizes."""
    if backend in ("eager", "inference"):
        return _torch_run(_module(folder, backend == "inference"))
    if backend == "compile":
        import torch

        return _torch_run(torch.compile(_module(folder, True)))
    if backend == "onnxruntime":
        return _onnxruntime(folder, threads)
    if backend == "openvino":
        return _openvino(folder, threads, precision)
    if backend == "aoti":
        return _aoti(folder)
    if backend == "tensorrt":
        return _tensorrt(folder, precision, batches)
    raise ValueError(f"unknown backend {backend!r}")


def _onnxruntime(folder: Path, threads: int) -> Run:
    from resnet_spec.compiler.targets.onnx import session
    from resnet_spec.deploy.options import INPUT_NAME, ONNX_FILE

    sess = session(folder / ONNX_FILE, threads)
    return lambda x: sess.run(None, {INPUT_NAME: x})


def _openvino(folder: Path, threads: int, precision: str) -> Run:
    from resnet_spec.compiler.targets.openvino import XML, compile_model
    from resnet_spec.deploy.options import INPUT_NAME

    request = compile_model(folder / XML, precision, threads).create_infer_request()
    return lambda x: request.infer({INPUT_NAME: x})


def _aoti(folder: Path) -> Run:
    """The package as the aoti target wrote it (threads: the process's OpenMP and torch
    settings)."""
    from resnet_spec.compiler.targets.aoti import FILE
    from resnet_spec.compiler.targets.aoti import load as load_package

    return _torch_run(load_package(folder / FILE))


def _tensorrt(folder: Path, precision: str, batches: tuple[int, ...]) -> Run:
    """An engine built here, for this GPU, from the prepared weights: the program is exported
    on CUDA with the batch dynamic over `batches` and compiled as the tensorrt target does."""
    import torch_tensorrt

    from resnet_spec.compiler.export import export_program
    from resnet_spec.compiler.targets.tensorrt import compile_arguments, plan
    from resnet_spec.deploy.options import BatchRange

    graph = _graph(folder)
    module = _module(folder, False).cuda()
    lo, hi = min(batches), max(batches)
    engine = plan(tuple(graph.input_shape), BatchRange(lo, hi, hi), precision)
    inputs, settings = compile_arguments(engine)
    compiled = torch_tensorrt.dynamo.compile(export_program(module, graph),
                                             arg_inputs=inputs, **settings)
    return _torch_run(compiled, "cuda")
