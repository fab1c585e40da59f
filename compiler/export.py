"""Deployment files of a compiled module: safetensors weights and a `torch.export` program.

The `.pt2` program is exported in eval mode with the batch dimension dynamic. torch.export
specializes a dimension whose example size is 0 or 1, so the trace uses a batch of 2 while the
declared range starts at 1. Every saved program is loaded back and compared with the module
before the build goes on: a file that does not load, or computes something else, never ships.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save

from resnet_spec.deploy.image_size import ImageSizes
from resnet_spec.errors import SpecError
from resnet_spec.ir import Graph
from resnet_spec.pipeline.outdir import write_file

TRACE_BATCH = 2
"""Batch of the example the program is traced with: 0 and 1 would be specialized."""

CHECK_BATCHES = (1, 3)
"""Batches the saved program is run at, against the module, before a build accepts it: the
smallest, and one that is neither the traced batch nor a specialized size."""

Progress = Callable[[str], None]
"""Told what a long step does next (`exporting`, `checking batch 3`), for the user to see."""

RELATIVE_TOLERANCE = 1e-4
"""An fp32 file's outputs may differ from the module's by this much times max(1, |output|)."""


class ExportError(SpecError):
    """An exported program that does not load back or disagrees with the module it came from."""


def save_safetensors(module: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Write the module's state_dict (torchvision/timm names) as safetensors, byte-stable."""
    state = {name: t.detach().contiguous() for name, t in module.state_dict().items()}
    write_file(Path(path), save(state, metadata={"format": "pt"}))


def example_input(graph: Graph, batch: int, like: torch.nn.Module,
                  size: tuple[int, int] | None = None) -> torch.Tensor:
    """A fixed pseudo-random image batch of the graph's input shape (or its channels at `size`,
    height and width), on the module's device."""
    first = next(like.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None else torch.float32
    generator = torch.Generator().manual_seed(batch)
    shape = graph.input_shape if size is None else (graph.input_shape[0], *size)
    x = torch.randn((batch, *shape), generator=generator)
    return x.to(device=device, dtype=dtype)


def export_program(module: torch.nn.Module, graph: Graph, sizes: ImageSizes | None = None
                   ) -> torch.export.ExportedProgram:
    """`torch.export` the module in eval mode, batch dynamic from 1 up; height and width fixed
    at the spec's, or with `sizes` (`--image-size`) any multiple of the stride in range."""
    dims: dict[int, Any] = {0: torch.export.Dim("batch", min=1)}
    size = None
    if sizes is not None:
        size = tuple(_trace_size(n, sizes) for n in graph.input_shape[1:])
        dims.update({2: _size_dim("height", sizes), 3: _size_dim("width", sizes)})
    example = example_input(graph, TRACE_BATCH, module, size)
    was_training = module.training
    module.eval()
    try:
        return torch.export.export(module, (example,), dynamic_shapes=(dims,))
    except torch._dynamo.exc.UserError as err:  # a constraint the network does not keep
        if sizes is None:
            raise
        raise ExportError(f"{graph.name}: torch.export cannot make height and width dynamic "
                          f"over --image-size {sizes}: {str(err).splitlines()[0]}",
                          hint="export without --image-size (the spec's fixed size)") from None
    finally:
        module.train(was_training)


def _size_dim(name: str, sizes: ImageSizes) -> Any:
    """H or W as `stride x a whole number` in range: the form under which torch.export proves
    every strided op's output size without guarding on a remainder."""
    low, high = sizes.min // sizes.stride, sizes.max // sizes.stride
    steps = torch.export.Dim(f"{name}_steps", min=low, max=high)
    return steps if sizes.stride == 1 else sizes.stride * steps


def _trace_size(spec_size: int, sizes: ImageSizes) -> int:
    """The example's height or width: the spec's, unless it is the smallest valid size and a
    larger one fits (a bound would be specialized, as a batch of 1 would)."""
    if spec_size == sizes.min and spec_size + sizes.stride <= sizes.max:
        return spec_size + sizes.stride
    return spec_size


def export_pt2(
    module: torch.nn.Module, graph: Graph, path: str | os.PathLike[str],
    keep: dict[int, Any] | None = None, progress: Progress | None = None,
    sizes: ImageSizes | None = None,
) -> torch.export.ExportedProgram:
    """Export the module to a `.pt2` file at `path`, then load it back and check it runs.
    `keep`, if given, receives the module's outputs at each check batch (the targets compare
    with the same ones instead of running the module again); `progress` hears of each part.
    With `sizes` (`--image-size`) height and width are dynamic, and the file is also checked
    at a second size."""
    progress = progress or (lambda message: None)
    progress("exporting")
    program = export_program(module, graph, sizes)
    progress(f"writing {Path(path).name}")
    write_file(Path(path), program_bytes(program))
    verify_pt2(module, graph, path, keep=keep, progress=progress, sizes=sizes)
    return program


def program_bytes(program: torch.export.ExportedProgram) -> memoryview:
    """The `.pt2` file of a program, serialized in memory: written from Python, a full disk is
    an error, while torch's own file writer aborts the process (it throws again in its
    destructor)."""
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getbuffer()


def verify_pt2(
    module: torch.nn.Module,
    graph: Graph,
    path: str | os.PathLike[str],
    batches: tuple[int, ...] = CHECK_BATCHES,
    keep: dict[int, Any] | None = None,
    progress: Progress | None = None,
    sizes: ImageSizes | None = None,
) -> None:
    """Load the saved program and compare its outputs with the module's at each batch size
    (and with `sizes`, at batch 1 at a second size); the module's outputs go into `keep` by
    batch, if given."""
    progress = progress or (lambda message: None)
    progress(f"loading {Path(path).name}")
    loaded = load_pt2(path)
    was_training = module.training
    module.eval()
    try:
        for batch in batches:
            progress(f"checking {Path(path).name} at batch {batch}")
            expected = _compare(module, loaded, example_input(graph, batch, module), path)
            if keep is not None:
                keep[batch] = expected
        other = sizes.other_size(*graph.input_shape[1:]) if sizes else None
        if other is not None and other != tuple(graph.input_shape[1:]):
            progress(f"checking {Path(path).name} at {other[0]}x{other[1]}")
            _compare(module, loaded, example_input(graph, 1, module, other), path)
    finally:
        module.train(was_training)


def load_pt2(path: str | os.PathLike[str]) -> Any:
    """The callable module of a saved program; ExportError if it does not load."""
    try:
        return torch.export.load(os.fspath(path)).module()
    except Exception as err:  # any failure to read back means the file is unusable
        raise ExportError(f"{path}: the saved program does not load back: {err}") from err


def _compare(module: torch.nn.Module, loaded: Any, x: torch.Tensor, path: Any) -> Any:
    """The module's output for `x`, after checking the loaded program's against it."""
    batch = x.shape[0]
    with torch.no_grad():
        output = module(x)
        expected, got = _by_name(output), _by_name(loaded(x))
    if {k: v.shape for k, v in expected.items()} != {k: v.shape for k, v in got.items()}:
        raise ExportError(f"{path}: at batch {batch} the program's output shapes differ")
    judge_fp32(*max_error(expected, got, str(path), batch), str(path))
    return output


def _arrays(output: Any) -> dict[str, Any]:
    """A module's outputs, or the targets' arrays of them by name, as arrays by name."""
    if isinstance(output, dict) and all(isinstance(v, np.ndarray) for v in output.values()):
        return output
    return _by_name(output)


def _by_name(output: Any) -> dict[str, Any]:
    """A module's outputs as float32 arrays by name: a tensor, or a backbone's dict."""
    tensors = output if isinstance(output, dict) else {"output": output}
    return {name: t.detach().float().cpu().numpy() for name, t in tensors.items()}


def max_error(expected: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], label: str,
              batch: int) -> tuple[float, float]:
    """The largest absolute difference over the outputs where both are finite, and the
    largest finite |expected| (the outputs' scale); ExportError where `got` holds NaN or inf
    and the module's output does not, or the other way round.

    The check is that the file computes what the module computes, not that an untrained
    network is well behaved: in eval mode at random init, with running statistics of 0 and 1,
    the residual stream of a deep network grows block by block (cifar_resnet1202's overflows
    float32), and the file must then overflow where the module does."""
    worst = scale = 0.0
    for name, want in expected.items():
        have = got[name]
        finite = np.isfinite(want)
        mismatch = finite != np.isfinite(have)
        if mismatch.any():
            where = "holds NaN or inf where the module's output is finite" if np.isfinite(
                want[mismatch]).any() else "is finite where the module's output is NaN or inf"
            raise ExportError(f"{label}: at batch {batch} output {name!r} {where}")
        if finite.any():
            worst = max(worst, float(np.abs(want[finite] - have[finite]).max()))
            scale = max(scale, float(np.abs(want[finite]).max()))
    return worst, scale


def nonfinite_note(outputs: Mapping[int, Any]) -> str | None:
    """A note for the user when the module's own outputs (by check batch) hold NaN or inf."""
    bad = sorted({name for out in outputs.values() for name, value in _arrays(out).items()
                  if not np.isfinite(value).all()})
    if not bad:
        return None
    return (f"the module's output {', '.join(map(repr, bad))} holds NaN or inf in eval mode "
            "with these weights (at random init the running statistics are 0 and 1, and a deep "
            "residual stream grows block by block until it overflows); the files compute the "
            "same. Training, or a few batches in train mode, sets the statistics")


def judge_fp32(worst: float, scale: float, label: str) -> float:
    """The tolerance of an fp32 file, RELATIVE_TOLERANCE x max(1, scale) (random-init logits
    of deep nets can be large); ExportError if `worst` passes it."""
    tolerance = RELATIVE_TOLERANCE * max(1.0, scale)
    if not worst <= tolerance:  # `not <=`: a NaN compares False both ways and must fail
        raise ExportError(f"{label}: its outputs differ from the module's by {worst:.3g} "
                          f"(allowed {tolerance:.3g}); the file is not kept")
    return tolerance
