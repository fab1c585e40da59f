"""Reading a `.pt`/`.pth` file that may be hostile: told by its first bytes, its zip records
bounded before torch reads any, torch's own failures turned into one line.

torch writes a zip archive whose records are stored, not compressed: its contents cannot be
larger than the file. A record that inflates beyond that (a zip bomb: 2.1 MB asking for
gigabytes) is refused from the archive's directory, before a byte of it is inflated. The
pickle inside is read by `torch.load(weights_only=True)`, which constructs tensors and plain
containers only; whatever it raises on corrupt bytes (KeyError, struct.error, IndexError...)
is a `NotWeights`, never an internal error.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from typing import Any

import torch

from resnet_spec import number_format as units

ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTOCOL_2 = b"\x80"
"""Torch's legacy (pre-1.6) format starts with a pickle of protocol 2 or later."""
SLACK_BYTES = 1 << 20
"""What the records may hold beyond the archive's own size: nothing a stored archive needs."""


class NotWeights(ValueError):
    """The file is not one torch could have written, or torch cannot read it; one line."""


def read_torch(path: str | os.PathLike[str], head: bytes, device: torch.device) -> Any:
    """What the torch file at `path` (starting with `head`) holds, tensors on `device`."""
    if head.startswith(ZIP_MAGIC):
        check_records(path)
    elif not head.startswith(PICKLE_PROTOCOL_2):
        raise NotWeights("it is neither a safetensors file (an 8-byte header length, then "
                         "`{`) nor a torch file (a zip archive, `PK`, or a pickle)")
    try:
        with warnings.catch_warnings():  # torch's notes on what it validates: not the user's
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=device, weights_only=True)
    except MemoryError:
        raise NotWeights("it asks for more memory than this machine has") from None
    except Exception as err:  # torch's reader fails on corrupt bytes in any way it likes
        raise NotWeights(_first_line(err)) from err


def check_records(path: str | os.PathLike[str]) -> None:
    """NotWeights unless the archive's records, inflated, fit in about the archive's size."""
    size = os.stat(path).st_size
    try:
        with zipfile.ZipFile(path) as archive:
            records = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise NotWeights(f"a broken zip archive: {_first_line(err)}") from None
    declared = sum(r.file_size for r in records)
    if declared > size + SLACK_BYTES:
        biggest = max(records, key=lambda r: r.file_size)
        raise NotWeights(
            f"its records inflate to {units.size(declared)} from a {units.size(size)} file "
            f"({biggest.filename!r} alone to {units.size(biggest.file_size)}); torch stores "
            "records uncompressed, so this is not a file torch wrote (a zip bomb?)")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    if "Weights only load failed" in text:
        # torch's own advice (weights_only=False) would run whatever the file's pickle says
        return ("it holds pickled objects other than tensors and plain containers; they are "
                "never unpickled, since that could run code")
    line = text.splitlines()[0] if text else ""
    return f"{type(err).__name__}: {line}" if line else type(err).__name__
