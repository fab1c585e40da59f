"""Finding a `dot` and running it: DOT text in, SVG or PNG bytes out.

The system `dot` wins where one is on PATH; otherwise the `graphviz-pure` wheel (a dependency)
brings a `dot`-compatible binary under that name, so a plain `pip install` renders SVG and PNG.
graphviz's Python package only ever looks for `dot`, so we call the binary ourselves. The wheel's
binary is found through the wheel's own file list, not only on PATH: pipx, or a virtual
environment run without activating it, installs it into a folder that PATH does not name.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
from pathlib import Path

from resnet_spec.errors import SpecError

PURE = "graphviz-pure"
FORMATS: tuple[str, ...] = ("svg", "png")
PNG_DPI = 144
"""dot's default 96 dpi makes 9-point edge labels blur on a slide."""
TIMEOUT_S = 300


class RenderError(SpecError):
    """A diagram could not be drawn (no renderer, an unknown format, the renderer failed)."""


class RendererMissing(RenderError):
    """Neither a system `dot` nor the `graphviz-pure` binary can be found."""


def _wheel_binary() -> str | None:
    """The executable that the installed graphviz-pure wheel put down, wherever that is."""
    try:
        files = importlib.metadata.files(PURE) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for record in files:
        if record.name in (PURE, f"{PURE}.exe"):
            path = Path(str(record.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    return None


def find_executable() -> str:
    """The renderer to run: `dot` on PATH, else graphviz-pure's binary (from its wheel, else on
    PATH); `RendererMissing`, saying how to get one, when there is none."""
    found = shutil.which("dot") or _wheel_binary() or shutil.which(PURE)
    if found:
        return found
    raise RendererMissing(
        "no Graphviz renderer found: neither `dot` nor `graphviz-pure` is installed",
        hint="`pip install graphviz-pure`, or install Graphviz (e.g. `apt-get install graphviz`);"
        " `.dot` output needs neither",
    )


def render(dot_source: str, fmt: str) -> bytes:
    """Lay out DOT text and return the picture's bytes, `fmt` being `svg` or `png`."""
    if fmt not in FORMATS:
        raise RenderError(f"unknown image format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    command = [find_executable(), f"-T{fmt}"]
    if fmt == "png":
        command.append(f"-Gdpi={PNG_DPI}")
    try:
        done = subprocess.run(command, input=dot_source.encode("utf-8"), capture_output=True,
                              timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RenderError(f"{command[0]} could not run: {err}") from err
    # stderr is not judged on success: graphviz-pure warns about every non-ASCII glyph it sizes
    if done.returncode != 0 or not done.stdout:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(
            f"{command[0]} failed (exit {done.returncode})" + (f": {detail[-1]}" if detail else "")
        )
    return done.stdout
