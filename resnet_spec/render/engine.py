"""Finding a `dot` and running it: DOT text in, SVG or PNG bytes out.

The system `dot` wins where one is on PATH; otherwise the `graphviz-pure` wheel (a dependency)
brings a `dot`-compatible binary under that name, so a plain `pip install` renders SVG and PNG.
graphviz's Python package only ever looks for `dot`, so we call the binary ourselves. The wheel's
binary is found through the wheel's own file list, not only on PATH: pipx, or a virtual
environment run without activating it, installs it into a folder that PATH does not name.

Layout is bounded: a diagram of more than `limits.MAX_LAYOUT_NODES` nodes or
`limits.MAX_LAYOUT_EDGES` edges is refused before `dot` runs (with the ways to draw it smaller),
and `dot` itself runs with its address space capped at `limits.MAX_RENDER_BYTES`, so a diagram
that needs more fails cleanly instead of taking the machine's memory.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
from pathlib import Path

from resnet_spec import limits
from resnet_spec import number_format as units
from resnet_spec.errors import SpecError

PURE = "graphviz-pure"
FORMATS: tuple[str, ...] = ("svg", "png")
PNG_DPI = 144
"""dot's default 96 dpi makes 9-point edge labels blur on a slide."""
TIMEOUT_S = 300

# One statement a line, as the `graphviz` package writes DOT: `name [attrs]` or `a -> b`.
_ID = r'(?:"(?:[^"\\]|\\.)*"|[A-Za-z0-9_.\x80-\U0010ffff]+)'
_NODE = re.compile(rf"^\s*(?!(?:graph|node|edge)\s*\[){_ID}\s*\[", re.MULTILINE)
_EDGE = re.compile(rf"^\s*{_ID}\s*->", re.MULTILINE)


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
    check_layout_size(dot_source)
    command = [find_executable(), f"-T{fmt}"]
    if fmt == "png":
        command.append(f"-Gdpi={PNG_DPI}")
    try:
        done = subprocess.run(command, input=dot_source.encode("utf-8"), capture_output=True,
                              timeout=TIMEOUT_S, check=False,
                              preexec_fn=_cap_memory if os.name == "posix" else None)
    except (OSError, subprocess.SubprocessError) as err:
        raise RenderError(f"{command[0]} could not run: {err}") from err
    # stderr is not judged on success: graphviz-pure warns about every non-ASCII glyph it sizes
    if done.returncode != 0 or not done.stdout:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        if _out_of_memory(detail):
            raise RenderError(
                f"{command[0]} ran out of the {units.size(limits.MAX_RENDER_BYTES)} of memory "
                "it may use", hint=_SMALLER)
        raise RenderError(
            f"{command[0]} failed (exit {done.returncode})" + (f": {detail[-1]}" if detail else "")
        )
    return done.stdout


_SMALLER = ("collapse repeated blocks (--collapse), draw a higher level (--level blocks or "
            "stages), or write .dot and lay it out elsewhere")


def layout_size(dot_source: str) -> tuple[int, int]:
    """The nodes and edges a DOT text declares (counted as this package writes DOT)."""
    return len(_NODE.findall(dot_source)), len(_EDGE.findall(dot_source))


def check_layout_size(dot_source: str) -> None:
    """A RenderError, before any layout, for a diagram beyond the node or edge bound."""
    nodes, edges = layout_size(dot_source)
    if nodes > limits.MAX_LAYOUT_NODES or edges > limits.MAX_LAYOUT_EDGES:
        raise RenderError(
            f"the diagram has {nodes:,} nodes and {edges:,} edges; SVG and PNG are drawn up to "
            f"{limits.MAX_LAYOUT_NODES:,} nodes and {limits.MAX_LAYOUT_EDGES:,} edges (layout "
            "time and memory grow faster than the graph)", hint=_SMALLER)


def _cap_memory() -> None:
    """In the renderer's process, before it starts: cap its address space."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = limits.MAX_RENDER_BYTES
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _out_of_memory(detail: list[str]) -> bool:
    """Whether `dot` died of the cap: Rust aborts on a failed allocation ("memory allocation of
    N bytes failed"), C Graphviz says "out of memory", the loader "Cannot allocate memory"."""
    text = " ".join(detail).lower()
    return any(sign in text for sign in ("memory allocation", "out of memory", "bad_alloc",
                                         "cannot allocate memory"))
