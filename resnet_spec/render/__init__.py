"""Architecture diagrams drawn from the IR alone: DOT text, then SVG or PNG through `dot`.

    to_dot(graph, level="blocks")      -> DOT source (deterministic: same graph, same text)
    render(dot_source, "svg" | "png")  -> image bytes (system `dot`, else `graphviz-pure`)
    write_diagram(graph, "r50.svg")    -> the file, format from the suffix, written atomically

Levels: `stages` (a box per stage), `blocks` (a box per block, shortcuts as their own edges),
`layers` (every op). `collapse` folds runs of identical blocks into one box marked ×N; by
default it is on at `blocks` and `layers` for nets of more than 40 blocks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Set
from pathlib import Path
from typing import Any

from resnet_spec.files import write_atomic
from resnet_spec.ir import Graph
from resnet_spec.render import blocks, common, layers, stages
from resnet_spec.render.engine import RendererMissing, RenderError, find_executable, render

__all__ = [
    "DIRECTIONS",
    "LEVELS",
    "SUFFIXES",
    "RenderError",
    "RendererMissing",
    "find_executable",
    "render",
    "to_dot",
    "write_diagram",
    "write_sides",
]

LEVELS: tuple[str, ...] = ("stages", "blocks", "layers")
DIRECTIONS: tuple[str, ...] = ("TB", "LR")
SUFFIXES: tuple[str, ...] = (".svg", ".png", ".dot")

_DRAW: dict[str, Callable[..., None]] = {
    "stages": stages.draw,
    "blocks": blocks.draw,
    "layers": layers.draw,
}


def to_dot(graph: Graph, *, level: str = "blocks", direction: str = "TB",
           collapse: bool | None = None, emphasize: Set[str] = frozenset(),
           emphasis: str = "emphasized") -> str:
    """The DOT source of a diagram of `graph` at `level`, laid out top-to-bottom (`TB`) or
    left-to-right (`LR`). `collapse=None` collapses nets of more than 40 blocks.

    `emphasize` names boxes of the `blocks` level (blocks such as `layer2.0`, and `stem`,
    `final`, `head`) to draw with a thick red border; the legend says what they are with the
    words of `emphasis` (`resnet-spec diff` marks the blocks that differ this way)."""
    if level not in LEVELS:
        raise RenderError(f"unknown diagram level {level!r}",
                          hint=f"use one of {', '.join(LEVELS)}")
    if direction not in DIRECTIONS:
        raise RenderError(f"unknown direction {direction!r}", hint="use TB or LR")
    if emphasize and level != "blocks":
        raise RenderError(f"boxes are emphasized at the blocks level only, not {level!r}")
    canvas = common.new_canvas(graph, direction)
    collapse = common.resolve_collapse(graph, collapse) and level != "stages"
    if emphasize:
        blocks.draw(graph, canvas, collapse, frozenset(emphasize), emphasis)
    else:
        _DRAW[level](graph, canvas, collapse)
    return canvas.source


def write_sides(a: Graph, b: Graph, marks_a: Mapping[str, str], marks_b: Mapping[str, str],
                path: str | os.PathLike[str]) -> None:
    """Write `diff -o`'s drawing of A and B side by side (`sides.to_dot_sides`) to `path`, its
    format from the suffix; whole or not at all."""
    from resnet_spec.render.sides import to_dot_sides

    target = _checked_suffix(path)
    source = to_dot_sides(a, b, marks_a, marks_b)
    fmt = target.suffix.lower()[1:]
    write_atomic(target, source.encode("utf-8") if fmt == "dot" else render(source, fmt))


def diagram_bytes(graph: Graph, fmt: str, **options: Any) -> bytes:
    """The diagram as `dot`, `svg` or `png` bytes."""
    source = to_dot(graph, **options)
    return source.encode("utf-8") if fmt == "dot" else render(source, fmt)


def write_diagram(graph: Graph, path: str | os.PathLike[str], **options: Any) -> None:
    """Write a diagram to `path`, its format from the suffix (.svg, .png, .dot); `options` are
    `to_dot`'s. The file appears whole or not at all."""
    target = _checked_suffix(path)
    data = diagram_bytes(graph, target.suffix.lower()[1:], **options)
    write_atomic(target, data)


def _checked_suffix(path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    if target.suffix.lower() not in SUFFIXES:
        raise RenderError(f"cannot tell the diagram format of {str(target)!r}",
                          hint=f"end the file name in {', '.join(SUFFIXES)}")
    return target


