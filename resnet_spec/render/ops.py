"""How an IR node is drawn, read off its op class (`ir/ops.py`): the text of its box is its
`label()`, its colours are its `family`'s, and a stem, head or shortcut in brief names only the
ops whose class is `brief`."""

from __future__ import annotations

from typing import Any

from resnet_spec.ir import AddNode
from resnet_spec.render import palette


def op_text(node: Any) -> str:
    """The one-line description of an IR node for a diagram box."""
    return str(node.label())


def style(node: Any) -> dict[str, str]:
    """Node attributes colouring the box of an IR node (or of an op class)."""
    return palette.family_style(node.family)


ADD_STYLE = style(AddNode)
"""The colours of a residual addition's circle."""


def brief(nodes: list[Any]) -> list[str]:
    """The texts of the nodes a one-line account names (convs, pools, ...), in order."""
    return [op_text(node) for node in nodes if node.brief]
