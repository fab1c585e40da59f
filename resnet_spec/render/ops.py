"""The drawing rule of each IR op kind: the short text of its box.

One entry per op kind in `RULES`; an op kind without one is drawn with the IR's own `label()`,
so a new op shows up (plainly) before anyone writes its rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _conv(node: Any) -> str:
    text = f"conv {node.kernel}×{node.kernel}"
    extras = [f"/{node.stride}" if node.stride > 1 else "",
              f"g{node.groups}" if node.groups > 1 else "",
              f"dil {node.dilation}" if node.dilation > 1 else "",
              "+bias" if node.bias else ""]
    return " ".join([text, *filter(None, extras)]) + f", {node.out_channels}"


def _norm(node: Any) -> str:
    text = f"{node.kind.value}norm"
    if node.kind.value == "group":
        text += f" g{node.groups}"
    return text + (" (zero init)" if node.zero_init else "")


def _pool(node: Any) -> str:
    text = f"{node.kind}pool {node.kernel}×{node.kernel} /{node.stride}"
    return text + (" ceil" if node.ceil_mode else "")


RULES: dict[str, Callable[[Any], str]] = {
    "input": lambda node: "input",
    "conv": _conv,
    "norm": _norm,
    "act": lambda node: node.kind.value,
    "pool": _pool,
    "global_pool": lambda node: f"global {node.kind.value}pool",
    "zero_pad": lambda node: f"subsample /{node.stride}, zero-pad to {node.out_channels}",
    "add": lambda node: "+",
    "dropout": lambda node: f"dropout {node.p:g}",
    "linear": lambda node: f"fc {node.in_features}→{node.out_features}",
}


def op_text(node: Any) -> str:
    """The one-line description of an IR node for a diagram box."""
    rule = RULES.get(node.op)
    return rule(node) if rule else node.label()


def summary(nodes: list[Any], ops: tuple[str, ...]) -> list[str]:
    """The texts of the nodes whose op is one of `ops`, in order (a stem or head in brief)."""
    return [op_text(node) for node in nodes if node.op in ops]
