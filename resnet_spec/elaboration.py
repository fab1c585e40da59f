"""Elaboration: one loop from a validated `Spec` to the graph IR.

The loop carries the running tensor (its node name and shape) as plain state, like timm's
`make_blocks`, and writes onto each node what it knows: op attributes, output shape, checkpoint
names and the spec entry responsible. It never rejects a graph: `check.check_graph` does that,
so that every structural error is found by one set of rules and reported at its spec line.
"""

from __future__ import annotations

from dataclasses import dataclass

from resnet_spec import limits
from resnet_spec.errors import LimitError, Loc, UnsupportedError
from resnet_spec.ir import (
    ActNode,
    AddNode,
    BlockInfo,
    ConvNode,
    DropoutNode,
    GlobalPoolNode,
    Graph,
    InputNode,
    LinearNode,
    NormNode,
    PoolNode,
    Scope,
    Shape,
    StageInfo,
    ZeroPadNode,
)
from resnet_spec.schema import (
    BlockKind,
    BlockSpec,
    HeadSpec,
    PoolKind,
    Shortcut,
    Spec,
    StemKind,
    StrideAt,
)


@dataclass
class _Cursor:
    """The running tensor: the node that produced it and its shape."""

    node: str
    shape: Shape


class _Builder:
    """Adds nodes to a graph, inferring each one's shape from its inputs."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.graph = Graph(spec.name, spec.description)
        # Node names in insertion order: slicing this gives a stage's or block's nodes without
        # copying the whole graph per block (quadratic at 10,000 blocks).
        self.added: list[str] = []

    def loc(self, *path: str | int) -> Loc | None:
        return self.spec.source.value(path) if self.spec.source else None

    def add(self, node_type: type, name: str, inputs: list[_Cursor], scope: Scope,
            loc: Loc | None, **attrs: object) -> _Cursor:
        draft = node_type(name=name, inputs=tuple(c.node for c in inputs), scope=scope,
                          loc=loc, **attrs)
        shape = draft.infer([c.shape for c in inputs])
        node = draft.model_copy(update={"shape": shape})
        self.graph.add(node)
        self.added.append(name)
        return _Cursor(name, shape)

    def conv_norm(self, prefix: str, conv: str, norm: str, x: _Cursor, out: int, *,
                  kernel: int, stride: int = 1, dilation: int = 1, groups: int = 1,
                  scope: Scope, loc: Loc | None, zero_init: bool = False) -> _Cursor:
        """A bias-free conv (padding keeps the size at stride 1) followed by the norm."""
        x = self.add(ConvNode, f"{prefix}{conv}", [x], scope, loc, in_channels=x.shape[0],
                     out_channels=out, kernel=kernel, stride=stride,
                     padding=dilation * (kernel - 1) // 2, dilation=dilation, groups=groups)
        n = self.spec.norm
        return self.add(NormNode, f"{prefix}{norm}", [x], scope, loc, kind=n.kind, channels=out,
                        eps=n.eps, momentum=n.momentum, groups=n.groups, zero_init=zero_init)

    def act(self, name: str, x: _Cursor, scope: Scope, loc: Loc | None) -> _Cursor:
        return self.add(ActNode, name, [x], scope, loc, kind=self.spec.activation)


def elaborate_unchecked(spec: Spec) -> Graph:
    """The IR of a spec, shapes inferred but not judged (see `check.check_graph`)."""
    _refuse_unsupported(spec)
    b = _Builder(spec)
    shape = (spec.input.channels, spec.input.height, spec.input.width)
    x = b.add(InputNode, "input", [], Scope(stage="input"), b.loc("input"), shape=shape)
    x = _stem(b, x)
    for index in range(len(spec.stages)):
        x = _stage(b, index, x)
    if spec.head is None:
        b.graph.outputs = {"features": x.node}
    else:
        x = _head(b, x)
        b.graph.outputs = {"logits": x.node}
    return b.graph


def _refuse_unsupported(spec: Spec) -> None:
    """Fields the language has but this version cannot elaborate yet: a clear error, never a
    silently different model."""

    def refuse(what: str, *path: str | int) -> None:
        loc = spec.source.key(path) if spec.source else None
        raise UnsupportedError(f"{what} is not supported yet by this resnet-spec", loc)

    if spec.stem.kind is StemKind.deep:
        refuse("the deep stem (`stem.kind: deep`)", "stem", "kind")
    if spec.features is not None:
        refuse("`features`", "features")
    for i, stage in enumerate(spec.stages):
        block = spec.stage_block(i)
        where = ("stages", i, "block") if stage.block.model_dump(exclude_none=True) else ("block",)
        if block.kind in (BlockKind.preact_basic, BlockKind.preact_bottleneck):
            refuse(f"the pre-activation block `{block.kind.value}`", *where, "kind")
        if block.se is not None:
            refuse("squeeze-and-excitation (`se`)", *where, "se")
        if block.drop_path > 0:
            refuse("stochastic depth (`drop_path`)", *where, "drop_path")
        if spec.stage_shortcut(i) is Shortcut.avg_down:
            path = ("stages", i, "shortcut") if stage.shortcut else ("shortcut",)
            refuse("the `avg_down` shortcut", *path)
        if stage.dilation != 1:
            refuse("`dilation`", "stages", i, "dilation")


def _stem(b: _Builder, x: _Cursor) -> _Cursor:
    stem = b.spec.stem
    loc = b.loc("stem")
    info = StageInfo(name="stem", kind="stem", loc=loc, in_shape=x.shape, stride=stem.stride,
                     width=stem.width)
    scope = Scope(stage="stem")
    start = len(b.added)
    x = b.conv_norm("", "conv1", "bn1", x, stem.width, kernel=stem.kernel, stride=stem.stride,
                    scope=scope, loc=loc)
    x = b.act("stem.act", x, scope, loc)
    if stem.pool is not PoolKind.none:
        x = b.add(PoolNode, "stem.pool", [x], scope, loc, kind=stem.pool.value, kernel=3,
                  stride=2, padding=1)
        info.stride *= 2
    info.nodes = b.added[start:]
    info.out_shape = x.shape
    b.graph.stages.append(info)
    return x


def _stage(b: _Builder, index: int, x: _Cursor) -> _Cursor:
    spec = b.spec
    stage = spec.stages[index]
    block = spec.stage_block(index)
    name = f"layer{index + 1}"
    loc = b.loc("stages", index)
    info = StageInfo(name=name, kind="stage", loc=loc, depth=stage.depth, width=stage.width,
                     stride=stage.stride, dilation=stage.dilation, in_shape=x.shape)
    start = len(b.added)
    _check_channels(block, stage.width, loc)
    for j in range(stage.depth):
        first = j == 0
        x = _block(b, f"{name}.{j}", name, j, x, block, spec.stage_shortcut(index),
                   width=stage.width, stride=stage.stride if first else 1, loc=loc)
        info.blocks.append(f"{name}.{j}")
    info.nodes = b.added[start:]
    info.out_shape = x.shape
    b.graph.stages.append(info)
    return x


def _check_channels(block: BlockSpec, width: int, loc: Loc | None) -> None:
    inner = width * block.base_width // 64 * block.groups
    for what, channels in (("output", width * block.out_expansion), ("inner", inner)):
        if channels > limits.MAX_CHANNELS:
            raise LimitError(
                f"the blocks' {what} channels would be {channels}; the limit is "
                f"{limits.MAX_CHANNELS}", loc)


def _block(b: _Builder, prefix: str, stage: str, index: int, x: _Cursor, block: BlockSpec,
           policy: Shortcut, *, width: int, stride: int, loc: Loc | None) -> _Cursor:
    start = len(b.added)
    identity = x
    out_channels = width * block.out_expansion
    main = Scope(stage=stage, block=prefix, branch="main")
    p = f"{prefix}."
    zero = block.zero_init_last_norm
    if block.kind is BlockKind.basic:
        inner = width
        x = b.conv_norm(p, "conv1", "bn1", x, width, kernel=3, stride=stride, scope=main, loc=loc)
        x = b.act(f"{p}act1", x, main, loc)
        x = b.conv_norm(p, "conv2", "bn2", x, out_channels, kernel=3, scope=main, loc=loc,
                        zero_init=zero)
        last_act = "act2"
    else:
        inner = width * block.base_width // 64 * block.groups
        s1, s2 = (stride, 1) if block.stride_at is StrideAt.first else (1, stride)
        x = b.conv_norm(p, "conv1", "bn1", x, inner, kernel=1, stride=s1, scope=main, loc=loc)
        x = b.act(f"{p}act1", x, main, loc)
        x = b.conv_norm(p, "conv2", "bn2", x, inner, kernel=3, stride=s2, groups=block.groups,
                        scope=main, loc=loc)
        x = b.act(f"{p}act2", x, main, loc)
        x = b.conv_norm(p, "conv3", "bn3", x, out_channels, kernel=1, scope=main, loc=loc,
                        zero_init=zero)
        last_act = "act3"
    changes = stride > 1 or identity.shape[0] != out_channels
    short, kind = _shortcut(b, p, identity, out_channels, stride, policy, changes, stage, prefix,
                            loc)
    if short is not None:
        x = b.add(AddNode, f"{p}add", [x, short], main, loc)
    x = b.act(f"{p}{last_act}", x, main, loc)
    info = BlockInfo(name=prefix, stage=stage, index=index, kind=block.kind, policy=policy,
                     shortcut=kind, stride=stride, width=width, inner=inner, groups=block.groups,
                     in_shape=identity.shape, out_shape=x.shape, loc=loc,
                     nodes=b.added[start:], input=identity.node, output=x.node)
    b.graph.blocks.append(info)
    return x


def _shortcut(b: _Builder, p: str, x: _Cursor, out_channels: int, stride: int, policy: Shortcut,
              changes: bool, stage: str, block: str, loc: Loc | None
              ) -> tuple[_Cursor | None, str]:
    """The tensor that reaches the addition (None for a plain block) and what it is."""
    if policy is Shortcut.none:
        return None, "none"
    scope = Scope(stage=stage, block=block, branch="shortcut")
    if policy is Shortcut.projection_all or (policy is Shortcut.projection and changes):
        short = b.conv_norm(p, "downsample.0", "downsample.1", x, out_channels, kernel=1,
                            stride=stride, scope=scope, loc=loc)
        return short, "projection"
    if policy is Shortcut.zero_pad and changes:
        short = b.add(ZeroPadNode, f"{p}shortcut", [x], scope, loc, stride=stride,
                      in_channels=x.shape[0], out_channels=out_channels)
        return short, "zero_pad"
    # identity (also where `identity` meets a shape change: the check reports that addition)
    return x, "identity"


def _head(b: _Builder, x: _Cursor) -> _Cursor:
    head = b.spec.head or HeadSpec()
    loc = b.loc("head")
    scope = Scope(stage="head")
    info = StageInfo(name="head", kind="head", loc=loc, in_shape=x.shape)
    start = len(b.added)
    x = b.add(GlobalPoolNode, "head.pool", [x], scope, loc, kind=head.pool)
    if head.dropout > 0:
        x = b.add(DropoutNode, "head.dropout", [x], scope, loc, p=head.dropout)
    x = b.add(LinearNode, "fc", [x], scope, loc, in_features=x.shape[0],
              out_features=head.classes)
    info.nodes = b.added[start:]
    info.out_shape = x.shape
    b.graph.stages.append(info)
    return x
