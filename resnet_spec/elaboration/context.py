"""What every builder of elaboration shares: the running tensor (`Cursor`), the block being
built (`BlockCtx`) and the context (`Ctx`) that adds nodes under the current scope, source
location and name prefix.

A builder is a small function `(ctx, cursor) -> cursor` (a block's also gets its `BlockCtx` and
returns what it built): it reads what it needs from `ctx` and adds nodes through it, so no
builder takes a dozen parameters and no node is added without its scope and location.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from resnet_spec.errors import Loc
from resnet_spec.ir import ActNode, ConvNode, Graph, NormNode, Scope, Shape
from resnet_spec.spec.schema import BlockSpec, Shortcut, Spec

_KEEP: Any = object()
"""`Ctx.at(loc=_KEEP)`: leave the location as it is (None is a location: "unknown")."""


@dataclass(frozen=True)
class Cursor:
    """The running tensor: the node that produced it and its shape."""

    node: str
    shape: Shape


@dataclass(frozen=True)
class BlockCtx:
    """The block being built: its settings. What its builder decides it returns (`Built`)."""

    name: str
    """`layer2.0`: the prefix of its nodes' names."""
    stage: str
    stage_index: int
    """0-based, as in the spec's `stages` list."""
    index: int
    spec: BlockSpec
    policy: Shortcut
    width: int
    stride: int
    dilation: int
    """Dilation of the block's 3x3 convs ..."""
    first_dilation: int
    """... except the first, which keeps the previous stage's in a stage's first block."""
    drop_path: float
    """Stochastic-depth rate of this block's branch (0: no drop-path node)."""
    expansion: int
    """Output channels = width × this (`block.expansion`, else the kind's default)."""
    options: BaseModel | None = None
    """`block.options` validated by the kind's `options` model, its defaults filled in; None
    for a kind without one."""

    @property
    def out_channels(self) -> int:
        return self.width * self.expansion


@dataclass
class Ctx:
    """Adds nodes to one graph under the current scope, location and name prefix."""

    spec: Spec
    graph: Graph
    scope: Scope = field(default_factory=lambda: Scope(stage="input"))
    loc: Loc | None = None
    prefix: str = ""
    blocks_done: int = 0
    """The network-wide index of the next block (timm's `net_block_idx`)."""
    taps: dict[str, Cursor] = field(default_factory=dict)
    """Tensors a backbone may return: `stem` (before its pool), `stage1` ..."""
    added: list[str] = field(default_factory=list)
    """Node names in insertion order: slicing this gives a stage's or block's nodes without
    copying the graph per block (quadratic at 10,000 blocks)."""

    def source(self, *path: str | int) -> Loc | None:
        """Where the value at `path` of the spec is written (None for specs built in Python)."""
        return self.spec.source.value(path) if self.spec.source else None

    def key(self, *path: str | int) -> Loc | None:
        """Where the key that introduces `path` is written."""
        return self.spec.source.key(path) if self.spec.source else None

    @contextmanager
    def at(self, *, scope: Scope | None = None, loc: Loc | None = _KEEP,
           prefix: str | None = None) -> Iterator[Ctx]:
        """Add nodes under another scope, location or name prefix until the block ends."""
        saved = (self.scope, self.loc, self.prefix)
        self.scope = scope or self.scope
        self.loc = self.loc if loc is _KEEP else loc
        self.prefix = self.prefix if prefix is None else prefix
        try:
            yield self
        finally:
            self.scope, self.loc, self.prefix = saved

    def add(self, node_type: type, name: str, inputs: list[Cursor], **attrs: Any) -> Cursor:
        """Add a node named `prefix + name`, inferring its shape from its inputs."""
        draft = node_type(name=self.prefix + name, inputs=tuple(c.node for c in inputs),
                          scope=self.scope, loc=self.loc, **attrs)
        node = draft.model_copy(update={"shape": draft.infer([c.shape for c in inputs])})
        self.graph.add(node)
        self.added.append(node.name)
        return Cursor(node.name, node.shape)

    def conv(self, x: Cursor, name: str, out: int, *, kernel: int, stride: int = 1,
             dilation: int = 1, groups: int = 1, bias: bool = False) -> Cursor:
        """A conv whose padding keeps the size at stride 1."""
        return self.add(ConvNode, name, [x], in_channels=x.shape[0], out_channels=out,
                        kernel=kernel, stride=stride, padding=dilation * (kernel - 1) // 2,
                        dilation=dilation, groups=groups, bias=bias)

    def norm(self, x: Cursor, name: str, *, zero_init: bool = False) -> Cursor:
        """The spec's norm over `x`'s channels."""
        n = self.spec.norm
        return self.add(NormNode, name, [x], kind=n.kind, channels=x.shape[0], eps=n.eps,
                        momentum=n.momentum, groups=n.groups, zero_init=zero_init)

    def act(self, x: Cursor, name: str) -> Cursor:
        """The spec's activation."""
        return self.add(ActNode, name, [x], kind=self.spec.activation)

    def conv_norm(self, x: Cursor, conv: str, norm: str, out: int, *, kernel: int,
                  stride: int = 1, dilation: int = 1, groups: int = 1,
                  zero_init: bool = False) -> Cursor:
        """A bias-free conv followed by the norm (the v1 layer)."""
        x = self.conv(x, conv, out, kernel=kernel, stride=stride, dilation=dilation,
                      groups=groups)
        return self.norm(x, norm, zero_init=zero_init)

    def block_field(self, stage: int, name: str) -> tuple[str | int, ...]:
        """The spec path of a block field as stage `stage` has it: its own override, else the
        top-level `block`'s (where a merged value came from)."""
        if getattr(self.spec.stages[stage].block, name) is not None:
            return ("stages", stage, "block", name)
        return ("block", name)

    def since(self, start: int) -> list[str]:
        """The names of the nodes added since `len(ctx.added)` was `start`."""
        return self.added[start:]
