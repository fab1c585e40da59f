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


MAX_NAME = 200
"""Characters of a built-in's name: far beyond any shipped one, within every file system's
255-byte file name (a longer name is simply no built-in, not an `OSError`)."""


def is_name(text: str) -> bool:
    return (len(text) <= MAX_NAME and bool(_NAME.match(text))
            and not text.endswith((".yaml", ".yml")))


def path_of(name: str) -> Path | None:
    if not is_name(name):
        return None
    path = specs_dir() / f"{name}.yaml"
    try:
        return path if path.is_file() else None
    except OSError:  # whatever the file system refuses to look up is no built-in
        return None


def suggest(name: str) -> str | None:
    close = difflib.get_close_matches(name, names(), n=1, cutoff=0.6)
    return close[0] if close else None
