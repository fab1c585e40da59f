"""Looking a builder up in a registry keyed by a value of the spec (an enum member or a
registered name): a value with no builder registered is refused at its line, never built as
some other model."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from resnet_spec.errors import Loc, UnsupportedError

T = TypeVar("T")


def lookup(registry: Mapping[Any, T], key: Enum | str, what: str, loc: Loc | None) -> T:
    """The builder registered for `key`, or an `UnsupportedError` at `loc` naming `what`."""
    builder = registry.get(key)
    if builder is None:
        supported = ", ".join(_name(k) for k in registry)
        raise UnsupportedError(f"{what} `{_name(key)}` is not supported yet by this "
                               "resnet-spec", loc, f"supported: {supported}")
    return builder


def _name(key: Enum | str) -> str:
    return str(key.value if isinstance(key, Enum) else key)
