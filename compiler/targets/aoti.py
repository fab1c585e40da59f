"""`aoti`: an AOTInductor package, `model.aoti.pt2`: the program compiled ahead of time to a
shared library (C++ kernels for the CPU, or Triton kernels for CUDA) with its weights, loaded
from Python (`torch._inductor.aoti_load_package`) or C++ (`AOTIModelPackageLoader`) without
Python, tracing or compiling at load time.

Compiled with `freezing` on: the weights become constants of the compiled graph, so inductor
folds each batch norm into its conv and fuses each conv with its ReLU or residual add into one
oneDNN call. Batch (and, with `--image-size`, height and width) stay as dynamic as the
program's; then oneDNN reorders each conv's weights into its blocked layout at every call
(ResNet-50, batch 1, one thread: 20 of 87 ms). A fixed `--batch N` compiles a static package
instead, whose weights inductor prepacks once, for that batch and the compiling process's
thread count (figures in docs/benchmarks.md).
The package is compiled for one device, `--aoti-device` (cpu by default; cuda where the machine
has one), and checked on it against the module.
"""

from __future__ import annotations

import io
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from resnet_spec.compiler.export import ExportError
from resnet_spec.compiler.targets.check import check, output_names
from resnet_spec.compiler.targets.job import Job
from resnet_spec.compiler.telemetry import quiet_logger

FILE = "model.aoti.pt2"
INDUCTOR_CONFIGS = {"freezing": True}
"""What the package is compiled with (recorded in the manifest)."""
COMPILERS = ("c++", "g++", "clang++")
TICK_S = 5.0
"""How often the compile says it is still running (it takes a minute on 2 cores)."""


def missing(device: str = "cpu") -> str | None:
    """What this machine lacks to compile a package for `device`, or None."""
    if not any(shutil.which(cc) for cc in COMPILERS):
        return ("--to aoti needs a C++ compiler on PATH (AOTInductor compiles the model to a "
                "shared library with it), and none of c++, g++, clang++ is there: install one "
                "(apt-get install g++)")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            cuda = torch.version.cuda
            why = (f"this torch is built for CUDA {cuda} but sees no CUDA device" if cuda
                   else f"this torch ({torch.__version__}) is built without CUDA")
            return (f"--to aoti --aoti-device cuda needs a CUDA device: {why}; compile for "
                    "the CPU here (--aoti-device cpu) or export on the GPU machine")
    return None


def compile_package(program: Any, progress: Callable[[str], None]) -> bytes:
    """The AOTInductor package of `program`, compiled in memory with `INDUCTOR_CONFIGS` (the
    bytes are written from Python: a full disk is an error, not an abort)."""
    import torch

    buffer = io.BytesIO()
    # inductor applies `freezing` only with grad off (compile_fx checks
    # torch.is_grad_enabled()): with it on, the setting is ignored without a word, and the
    # convs stay plain aten calls on unpacked weights instead of oneDNN's prepacked ones
    # without a GPU, torch's C++ extension builder warns of no CUDA on every CPU compile
    with _ticking(progress, "compiling with AOTInductor"), \
            quiet_logger("torch.utils.cpp_extension"), torch.no_grad():
        torch._inductor.aoti_compile_and_package(program, package_path=buffer,
                                                 inductor_configs=dict(INDUCTOR_CONFIGS))
    return buffer.getvalue()


@contextmanager
def _ticking(progress: Callable[[str], None], what: str) -> Iterator[None]:
    """`progress(what)` now and every TICK_S seconds with the time so far, until done."""
    done = threading.Event()
    start = time.perf_counter()
    progress(what)

    def tick() -> None:
        while not done.wait(TICK_S):
            progress(f"{what}, {time.perf_counter() - start:.0f} s")

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()


@contextmanager
def _strict_fp32(device: str) -> Iterator[None]:
    """On CUDA, TF32 off for convs and matmuls while the package is compiled and checked: the
    file is fp32 and judged as fp32 (cuDNN's convs default to TF32, about 1e-3 relative)."""
    if device != "cuda":
        yield
        return
    import torch

    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def load(path: Any, device: str = "cpu") -> Any:
    """The package at `path`, loaded for `device`; ExportError if it does not load."""
    import torch

    try:
        return torch._inductor.aoti_load_package(str(path))
    except Exception as err:  # any failure to load means the package is unusable
        raise ExportError(f"{FILE}: AOTInductor cannot load it on {device}: {err}") from err


def runner(loaded: Any, graph: Any, device: str) -> Callable[[np.ndarray], dict[str, Any]]:
    """A check runner over a loaded package: numpy in, numpy outputs by name out."""
    import torch

    names = output_names(graph)

    def run(x: np.ndarray) -> dict[str, np.ndarray]:
        with torch.no_grad():
            out = loaded(torch.from_numpy(x).to(device))
        out = out if isinstance(out, dict) else {names[0]: out}
        return {name: out[name].float().cpu().numpy() for name in names}

    return run


def static_batch(job: Job) -> int | None:
    """The one batch size the package is compiled for, when `--batch` names one (and the image
    size is fixed); None: the batch stays dynamic."""
    fixed = job.batch.min == job.batch.max and job.image_size is None
    return job.batch.min if fixed else None


def _program(job: Job, batch: int | None) -> Any:
    """What to compile: the job's program (batch dynamic), or for a static batch the module
    exported again at that batch, every shape static. (The one target that traces again: a
    dynamic program cannot be narrowed to one batch, and only a static one lets inductor
    prepack the conv weights.)"""
    if batch is None:
        return job.program
    import torch

    from resnet_spec.compiler.export import example_input

    job.progress(f"exporting at batch {batch}")
    with torch.no_grad():
        return torch.export.export(job.module, (example_input(job.graph, batch, job.module),))


def build(job: Job) -> dict[str, Any]:
    """Compile the program into `model.aoti.pt2` for the job's device, load it back, compare
    it with the module at the check batches (and sizes)."""
    import torch

    device, batch = job.aoti_device, static_batch(job)
    program = _program(job, batch)
    if device != "cpu":
        from torch.export.passes import move_to_device_pass

        program = move_to_device_pass(program, device)
    threads = torch.get_num_threads()
    with _strict_fp32(device):
        started = time.perf_counter()
        data = compile_package(program, job.progress)
        seconds = time.perf_counter() - started
        job.progress(f"writing {FILE}")
        path = job.write(FILE, data)
        job.progress(f"loading {FILE}")
        loaded = load(path, device)
        version = torch.__version__.split("+")[0]
        result = check(job, FILE, runner(loaded, job.graph, device),
                       f"torch {version} AOTInductor ({device})", "fp32")
    entry = {
        "files": [FILE],
        "precision": "fp32",
        "device": device,
        "batch": "dynamic" if batch is None else batch,
        "inductor_configs": dict(INDUCTOR_CONFIGS),
        "compile_seconds": round(seconds, 1),
        "loads_with": f"torch {version} (torch._inductor.aoti_load_package, or libtorch's "
                      "torch::inductor::AOTIModelPackageLoader)",
        "check": result.as_json(),
    }
    if batch is not None and device == "cpu":
        # oneDNN chooses a conv's weight layout by its shapes and the thread count: packed for
        # these threads, a run with others reorders some weights at every call
        entry["weights_packed_for_threads"] = threads
    return entry
