"""The built-in specs shipped in `specs/` (installed as the package `resnet_spec.specs`)."""

from __future__ import annotations

import difflib
import re
from functools import cache
from importlib import resources
from pathlib import Path

_NAME = re.compile(r"^[a-z][a-z0-9_.-]*$")


@cache
def specs_dir() -> Path:
    """The folder of built-in spec files, in a source checkout or an installed package."""
    return Path(str(resources.files("resnet_spec.specs")))


def names() -> list[str]:
    """Every built-in spec's name, sorted."""
    return sorted(p.stem for p in specs_dir().glob("*.yaml"))


def is_name(text: str) -> bool:
    return bool(_NAME.match(text)) and not text.endswith((".yaml", ".yml"))


def path_of(name: str) -> Path | None:
    path = specs_dir() / f"{name}.yaml"
    return path if path.is_file() else None


def suggest(name: str) -> str | None:
    close = difflib.get_close_matches(name, names(), n=1, cutoff=0.6)
    return close[0] if close else None
