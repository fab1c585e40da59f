"""Looking a builder up in a registry keyed by a spec enum: a value of the language with no
builder registered is refused at its line, never built as some other model."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

from resnet_spec.errors import Loc, UnsupportedError

T = TypeVar("T")


def lookup(registry: Mapping[Enum, T], key: Enum, what: str, loc: Loc | None) -> T:
    """The builder registered for `key`, or an `UnsupportedError` at `loc` naming `what`."""
    builder = registry.get(key)
    if builder is None:
        supported = ", ".join(k.value for k in registry)
        raise UnsupportedError(f"{what} `{key.value}` is not supported yet by this resnet-spec",
                               loc, f"supported: {supported}")
    return builder
