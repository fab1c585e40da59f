"""Human-readable numbers for tables: counts (25.56M), MACs (4.09G), bytes (86.6 MiB), shapes.

Counts use decimal prefixes, as papers and torchvision do for parameters and MACs; memory uses
binary prefixes, as allocators and `nvidia-smi` do.
"""

from __future__ import annotations

from collections.abc import Sequence

DTYPE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2}
"""Bytes per element of the dtypes a summary can size activations in."""

_DECIMAL = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))
_BINARY = ((1024**4, "TiB"), (1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB"))


def count(n: int | float, digits: int = 2) -> str:
    """`25557032` -> `25.56M`; numbers below a thousand are printed whole."""
    for scale, suffix in _DECIMAL:
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f}{suffix}"
    return f"{n:g}" if isinstance(n, float) else str(n)


def size(n_bytes: int | float) -> str:
    """`90800000` -> `86.6 MiB`."""
    for scale, suffix in _BINARY:
        if abs(n_bytes) >= scale:
            return f"{n_bytes / scale:.1f} {suffix}"
    return f"{int(n_bytes)} B"


def shape(dims: Sequence[int]) -> str:
    """`(256, 56, 56)` -> `256×56×56`."""
    return "×".join(str(d) for d in dims)


def many(n: int, noun: str) -> str:
    """`1, "block"` -> `1 block`; `3, "block"` -> `3 blocks` (nouns that take an `s`)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def exact(n: int) -> str:
    """`25557032` -> `25,557,032`."""
    return f"{n:,}"
