"""Weights files: reading safetensors or `.pt`/`.pth` state dicts, and judging their fit.

A `.pt`/`.pth` file is read with `torch.load(weights_only=True)`, never plain pickle. The format
is told by the file's first bytes, not its name: a safetensors file starts with its 8-byte header
length then `{`, anything else goes to `torch.load`. Only a regular file is opened (a FIFO or a
device would block or never end). A file that fits must also hold real numbers: floating-point
parameters and statistics (an integer, bool or complex export is one line, not one per tensor),
no NaN or infinity, no negative running variance. Every problem is a `WeightsError` (a
`SpecError`, so the CLI prints it and exits 1), located at the file.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping
from typing import Any

import torch

from resnet_spec import files
from resnet_spec.compiler.torch_file import NotWeights, read_torch
from resnet_spec.errors import Loc, SpecError, shown
from resnet_spec.ir import Shape

SHOWN = 5
"""How many keys of each kind a fitting report names."""


class WeightsError(SpecError):
    """A weights file cannot be read, is not a state dict, or does not fit the model."""


def load_state_file(path: str | os.PathLike[str], *, device: Any = None
                    ) -> dict[str, torch.Tensor]:
    """The state dict in a safetensors or torch file, its tensors on `device` (default CPU)."""
    where = Loc(os.fspath(path), line=0)
    device = torch.device(device if device is not None else "cpu")
    try:
        with os.fdopen(files.open_regular(path), "rb") as f:
            head = f.read(9)
        state = _read_safetensors(path, device) if _is_safetensors(head) else read_torch(
            path, head, device)
    except files.FileProblem as e:
        raise WeightsError(f"cannot read the weights file: {e}", where) from None
    except OSError as e:
        raise WeightsError(f"cannot read the weights file: {e.strerror or e}", where) from e
    except NotWeights as e:
        raise WeightsError(f"not a safetensors or torch state dict file: {e}", where) from e
    except (RuntimeError, ValueError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile,
            ImportError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WeightsError(f"not a safetensors or torch state dict file: {first_line}",
                           where) from e
    return _as_state_dict(state, where)


def _is_safetensors(head: bytes) -> bool:
    return len(head) == 9 and head[8:9] == b"{"


def _read_safetensors(path: str | os.PathLike[str], device: torch.device) -> Any:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device=str(device))
    except SafetensorError as e:
        raise ValueError(str(e)) from e


def _as_state_dict(state: Any, where: Loc) -> dict[str, torch.Tensor]:
    """`state` itself where it maps names to tensors, else a WeightsError saying what it is."""
    if not isinstance(state, Mapping):
        raise WeightsError(f"the file holds a {type(state).__name__}, not a state dict", where)
    wrong = [k for k, v in state.items() if not (isinstance(k, str) and torch.is_tensor(v))]
    if wrong:
        keys = ", ".join(map(repr, list(state)[:SHOWN]))
        nested = [k for k in ("state_dict", "model", "model_state_dict") if k in state]
        hint = f"the state dict may be under {nested[0]!r}; save that alone" if nested else ""
        raise WeightsError(
            f"the file is not a state dict of tensors (its keys include {keys})", where, hint)
    return dict(state)


def check_fit(state: Mapping[str, torch.Tensor], expected: Mapping[str, Shape], *,
              model: str, source: str,
              hint: str = "is the file for the same architecture and number of classes?"
              ) -> None:
    """Raise a WeightsError naming missing, unexpected and wrongly shaped keys, if any."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shaped = [
        f"{k} (file {tuple(state[k].shape)}, model {tuple(expected[k])})"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k])
    ]
    parts = [
        _listing(what, keys)
        for what, keys in (("missing", missing), ("unexpected", unexpected),
                           ("wrongly shaped", shaped))
        if keys
    ]
    if parts:
        raise WeightsError(f"the weights do not fit {model}: " + "; ".join(parts),
                           Loc(source, line=0), hint)
    check_numbers(state, source=source)


def check_numbers(state: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Raise a WeightsError if the tensors are not real floating-point numbers fit to run:
    integer, bool or complex dtypes, NaN or infinity, a negative running variance."""
    where = Loc(source, line=0)
    check_storage(state, source=source)
    wrong = [k for k, v in state.items() if not _dtype_fits(k, v)]
    if wrong:
        dtypes = ", ".join(sorted({str(state[k].dtype).removeprefix("torch.") for k in wrong}))
        raise WeightsError(f"{_listing(f'tensors of dtype {dtypes}', wrong)}; parameters and "
                           "statistics must be float16, bfloat16, float32 or float64", where,
                           "an integer, quantized or complex export? save the float state_dict")
    broken = [k for k, v in state.items() if v.is_floating_point() and not _all_finite(v)]
    if broken:
        raise WeightsError(_listing("tensors hold NaN or infinity", broken), where,
                           "a corrupted file, or a training run that diverged")
    negative = [k for k, v in state.items()
                if k.endswith("running_var") and v.is_floating_point() and bool((v < 0).any())]
    if negative:
        raise WeightsError(_listing("running variances below 0", negative), where,
                           "a variance is never negative: the file is corrupted")


def _dtype_fits(key: str, tensor: torch.Tensor) -> bool:
    if key.endswith("num_batches_tracked"):  # a counter: any real number type
        return not (tensor.is_complex() or tensor.dtype is torch.bool)
    return tensor.dtype in COMPUTE_DTYPES  # float8s cannot even be summed on a CPU


COMPUTE_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
"""The floating-point dtypes a parameter or statistic may have in a weights file."""


def _all_finite(tensor: torch.Tensor) -> bool:
    # A NaN or an infinity makes the sum NaN or infinite, and the sum reads the tensor once
    # without allocating (6x faster than isfinite on ResNet-152); a sum that overflowed from
    # finite values is told apart by the exact test.
    return bool(torch.isfinite(tensor.sum())) or bool(torch.isfinite(tensor).all())


def _listing(what: str, keys: list[str]) -> str:
    more = f", ... ({len(keys) - SHOWN} more)" if len(keys) > SHOWN else ""
    return f"{len(keys)} {what}: " + ", ".join(shown(k) for k in keys[:SHOWN]) + more


def check_storage(state: Mapping[str, torch.Tensor], *, source: str) -> None:
    """WeightsError for tensors with no ordinary data to load: sparse or other layouts, the
    meta device (shapes without values)."""
    kinds = (("sparse or other non-dense tensors", lambda v: v.layout != torch.strided),
             ("tensors without data (the meta device)", lambda v: v.is_meta))
    for what, test in kinds:
        found = [k for k, v in state.items() if test(v)]
        if found:
            raise WeightsError(_listing(what, found), Loc(source, line=0),
                               "save the dense state_dict of a module that holds its weights")


def cast_state(state: dict[str, torch.Tensor], dtype: torch.dtype, device: torch.device,
               *, source: str = "") -> dict[str, torch.Tensor]:
    """Every tensor on `device`, floating ones in `dtype` (integer buffers such as
    `num_batches_tracked` keep theirs). Tensors already right are kept, not copied. A value
    finite in the file but beyond `dtype`'s range (a float64 of 1e300 in float32) is a
    WeightsError naming the tensor: the finiteness check must hold for what is loaded."""
    cast = {
        k: v.to(device=device, dtype=dtype if v.is_floating_point() else v.dtype)
        for k, v in state.items()
    }
    narrowed = [k for k, v in state.items() if v.is_floating_point() and v.dtype != dtype
                and not _all_finite(cast[k])]
    if narrowed:
        wider = ", ".join(sorted({str(state[k].dtype).removeprefix("torch.") for k in narrowed}))
        limit = torch.finfo(dtype).max
        raise WeightsError(
            _listing(f"tensors of {wider} overflow {str(dtype).removeprefix('torch.')} (beyond "
                     f"±{limit:.3g})", narrowed), Loc(source, line=0) if source else None,
            "a corrupted file, or values no network computes with; check how it was saved")
    return cast
