"""The contract of an IR op: one class holds everything the front end knows of it.

A node is a frozen pydantic model with its attributes as fields; its class says, beside them,

- its shape rule (`infer`) and its checkpoint entries (`params`, `buffers`);
- what the static checks judge beyond the shape (`check`, plus the `takes_map` and
  `can_shrink` flags the checker applies to every op);
- its cost (`macs`, `window` for the receptive field, `stores_output` for activations);
- its one label (`label`: diagram boxes, `summary --layers`, the cost JSON), the colour family
  it is drawn in (`family`), and whether the one-line account of a stem, head or shortcut
  names it (`brief`);
- whether it does anything in eval mode (`training_only`: the inference passes drop it);
- the name torchvision gives its module at the top of the model (`root_module`).

Only the torch side lives elsewhere: each op's lowering and initialization are one
registration in `resnet_spec.compiler.ops`. `tests/test_registries.py` derives the op list and
fails when an op lacks any of these.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from resnet_spec.errors import Loc
from resnet_spec.ir.findings import Finding

if TYPE_CHECKING:
    from resnet_spec.ir.graph import Graph

Shape = tuple[int, ...]


class Scope(BaseModel):
    """Where a node sits, for folding in diagrams and summaries."""

    model_config = ConfigDict(frozen=True)

    stage: str
    """`input`, `stem`, `layer1` ... `layerN`, or `head`."""
    block: str | None = None
    """`layer1.0` for nodes inside a residual block."""
    branch: Literal["main", "shortcut"] | None = None
    """Inside a block: the residual branch or the shortcut."""


class Op(BaseModel):
    """An IR node: the base of every op class. Subclasses set `op` (a `Literal` with its kind as
    default), their attributes, and override the rules that differ from these defaults."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    takes_map: ClassVar[bool] = True
    """Whether every input must be a C×H×W map (not a flat vector)."""
    can_shrink: ClassVar[bool] = False
    """Whether its output can be smaller than its input (so an input too small can empty it)."""
    family: ClassVar[str] = "other"
    """The colour family of its box (a key of `render.palette.FAMILY_COLOURS`)."""
    brief: ClassVar[bool] = False
    """Whether the one-line account of a stem, a head or a shortcut names it (convs and pools
    are named; norms and activations go without)."""
    training_only: ClassVar[bool] = False
    """Whether it is an identity in eval mode, so that the inference passes remove it."""
    stores_output: ClassVar[bool] = True
    """Whether its output counts as an activation (the input image does not)."""

    name: str
    inputs: tuple[str, ...] = ()
    shape: Shape = ()
    scope: Scope
    loc: Loc | None = None

    @classmethod
    def op_kind(cls) -> str:
        """The op kind: the default of the class's `op` field."""
        return str(cls.model_fields["op"].default)

    def infer(self, inputs: list[Shape]) -> Shape:
        """The output shape for these input shapes (never raises; `check` judges sizes)."""
        return inputs[0]

    def params(self) -> dict[str, Shape]:
        """Trainable parameters: checkpoint key -> shape."""
        return {}

    def buffers(self) -> dict[str, Shape]:
        """Non-trainable state saved in checkpoints: key -> shape."""
        return {}

    def param_count(self) -> int:
        return sum(math.prod(s) for s in self.params().values())

    def check(self, graph: Graph, inputs: list[Shape]) -> list[Finding]:
        """What is wrong with this node given its inputs' shapes, beyond its shape rule."""
        return []

    def macs(self) -> int:
        """Multiply-accumulates per image (convolutions and linear layers; others count 0)."""
        return 0

    def window(self) -> tuple[int, int]:
        """(effective kernel, stride) for the receptive field; (1, 1) leaves it unchanged."""
        return 1, 1

    def label(self) -> str:
        """A short description of the op and its attributes: the text of its diagram box and
        its row of `summary --layers`."""
        raise NotImplementedError(f"the op `{self.op_kind()}` has no label")

    def root_module(self) -> str | None:
        """torchvision's attribute name for this op's module when it sits at the top of the
        model (`relu`, `maxpool`); None keeps the IR name with `_` for `.`."""
        return None

    def error(self, message: str, hint: str, check: str) -> Finding:
        """An error found at this node, located at the spec entry that made it."""
        return Finding("error", message, self.loc, hint, self.name, check)


def spatial(size: int, kernel: int, stride: int, padding: int, dilation: int,
            ceil: bool) -> int:
    """The output size of a window sliding over `size`, as PyTorch computes it."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    # floor division, as PyTorch's: in ceil mode a window hanging over the edge still counts,
    # so a 2x2/2 ceil-mode pool of a 1x1 map gives 1x1, not nothing
    out = (span + (stride - 1 if ceil else 0)) // stride + 1
    # PyTorch drops a last window that would start inside the right padding.
    if ceil and (out - 1) * stride >= size + padding:
        out -= 1
    return max(out, 0)


def dims(shape: Shape) -> str:
    """`64×56×56`."""
    return "×".join(str(d) for d in shape)
