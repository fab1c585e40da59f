"""The drawing rule of each IR op kind: the short text of its box and the colour family it is
drawn in, one `Drawing` per op kind in `RULES` (a test holds it to the IR's op list)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resnet_spec.render import palette


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


@dataclass(frozen=True)
class Drawing:
    """How one op kind is drawn: its box text and its colour family (`palette.FAMILY_COLOURS`)."""

    text: Callable[[Any], str]
    family: str


RULES: dict[str, Drawing] = {
    "input": Drawing(lambda node: "input", "io"),
    "conv": Drawing(_conv, "conv"),
    "norm": Drawing(_norm, "norm"),
    "act": Drawing(lambda node: node.kind.value, "act"),
    "pool": Drawing(_pool, "pool"),
    "global_pool": Drawing(lambda node: f"global {node.kind.value}pool", "pool"),
    "zero_pad": Drawing(lambda node: f"subsample /{node.stride}, zero-pad to "
                        f"{node.out_channels}", "shortcut"),
    "add": Drawing(lambda node: "+", "merge"),
    "dropout": Drawing(lambda node: f"dropout {node.p:g}", "regularize"),
    "linear": Drawing(lambda node: f"fc {node.in_features}→{node.out_features}", "head"),
    "squeeze": Drawing(lambda node: "squeeze: global avg, 1×1", "pool"),
    "gate": Drawing(lambda node: "× sigmoid(gate)", "merge"),
    "drop_path": Drawing(lambda node: f"drop path {node.p:.3g}", "regularize"),
}


def op_text(node: Any) -> str:
    """The one-line description of an IR node for a diagram box."""
    return RULES[node.op].text(node)


def style(op: str) -> dict[str, str]:
    """Node attributes colouring a box of this IR op kind."""
    return palette.family_style(RULES[op].family)


def summary(nodes: list[Any], ops: tuple[str, ...]) -> list[str]:
    """The texts of the nodes whose op is one of `ops`, in order (a stem or head in brief)."""
    return [op_text(node) for node in nodes if node.op in ops]
