"""Colours and line styles of the diagrams: one table per thing drawn, nothing computed.

Fills are light tints of the Okabe-Ito colour-blind-safe palette with the full colour as the
border, under near-black text: they stay apart in colour, survive a greyscale printer (the text
carries the meaning, the tint only groups) and sit on an explicit white page, so a diagram
embedded in a dark-mode page is a white card rather than black lines on black.
"""

from __future__ import annotations

FONT = "Helvetica"
INK = "#1a1a1a"
"""Text and ordinary edges."""
MUTED = "#555555"
"""Secondary text: shapes on edges, parameter counts."""
PAGE = "#ffffff"

# family -> (fill, border). Every IR op class names its family (`family`, ir/ops.py).
FAMILY_COLOURS: dict[str, tuple[str, str]] = {
    "io": ("#eeeeee", "#555555"),
    "conv": ("#d5e8f6", "#0072b2"),
    "norm": ("#d3efe5", "#009e73"),
    "act": ("#fcebc7", "#e69f00"),
    "pool": ("#f3dbe9", "#cc79a7"),
    "merge": ("#fbdccb", "#d55e00"),
    "shortcut": ("#fbf5c4", "#a89500"),
    "head": ("#e2e0f4", "#5a4fb0"),
    "regularize": ("#f2f2f2", "#8c8c8c"),
    "other": ("#ffffff", "#555555"),
}

# the shortcut a block actually has -> (legend text, edge attributes); `none` draws no edge
SHORTCUT_STYLES: dict[str, tuple[str, dict[str, str]]] = {
    "identity": ("identity", {"color": INK, "style": "solid", "penwidth": "1.4"}),
    "zero_pad": (
        "zero-pad (option A)",
        {"color": "#d55e00", "style": "dotted", "penwidth": "2.2"},
    ),
    "projection": (
        "projection: 1×1 conv + norm",
        {"color": "#0072b2", "style": "dashed", "penwidth": "1.8"},
    ),
    "avg_down": (
        "avg-down: avgpool + 1×1 conv + norm",
        {"color": "#cc79a7", "style": "dashed", "penwidth": "2.4"},
    ),
    "none": ("none: plain block, no shortcut", {"style": "invis"}),
}

GRAPH_ATTRS: dict[str, str] = {
    "bgcolor": PAGE,
    "fontname": FONT,
    "fontcolor": INK,
    "labelloc": "t",
    "labeljust": "c",
    "nodesep": "0.35",
    "ranksep": "0.3",
    "pad": "0.3",
    "newrank": "true",
}
NODE_ATTRS: dict[str, str] = {
    "fontname": FONT,
    "fontsize": "11",
    "fontcolor": INK,
    "shape": "box",
    "style": "rounded,filled",
    "penwidth": "1.2",
    "margin": "0.14,0.06",
}
EDGE_ATTRS: dict[str, str] = {
    "fontname": FONT,
    "fontsize": "9",
    "fontcolor": MUTED,
    "color": INK,
    "arrowsize": "0.7",
    "penwidth": "1.2",
}
CLUSTER_ATTRS: dict[str, str] = {
    "style": "rounded,filled",
    "color": "#9a9a9a",
    "fillcolor": "#f7f7f7",
    "fontsize": "12",
    "labeljust": "l",
    "penwidth": "1",
}
INNER_CLUSTER_ATTRS: dict[str, str] = {
    **CLUSTER_ATTRS,
    "fillcolor": PAGE,
    "color": "#c4c4c4",
    "fontsize": "10",
    "style": "rounded,filled,dashed",
}


EMPHASIS: dict[str, str] = {"color": "#e0001b", "penwidth": "3.2"}
"""A box to point out (`render.to_dot(emphasize=...)`, the blocks that `diff` finds changed):
a thick red border, which a greyscale printer still shows as the heaviest line."""


def family_style(family: str) -> dict[str, str]:
    """Node attributes colouring a box of this family."""
    fill, border = FAMILY_COLOURS.get(family, FAMILY_COLOURS["other"])
    return {"fillcolor": fill, "color": border}


MARKS: dict[str, dict[str, str]] = {
    "changed": EMPHASIS,
    "added": {"color": "#009e73", "penwidth": "3.2"},
    "removed": {"color": "#4d4d4d", "penwidth": "3.2", "style": "rounded,filled,dashed"},
}
"""The borders of `diff -o`'s two sides: a box that differs (red, as `EMPHASIS`), one only in B
(bluish green), one only in A (dashed dark grey, so it reads as gone in any colours)."""


def box_style(family: str, emphasized: bool | str = False) -> dict[str, str]:
    """A box of this family, with the emphasis border when `emphasized` (a `MARKS` kind
    for that kind's border)."""
    mark = MARKS[emphasized] if isinstance(emphasized, str) else EMPHASIS if emphasized else {}
    return {**family_style(family), **mark}
