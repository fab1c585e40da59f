"""The graph IR: typed op nodes in a networkx DiGraph, each knowing its own rules.

Everything after loading reads this IR and never the spec: the checker, the cost model, the
renderer and the torch back end. A node is a pydantic model (`ir/op.py`) with

- `name`: unique; for nodes with parameters it is the module path of the compiled model
  (torchvision's names: `layer2.0.downsample.0`), so `params()` gives checkpoint keys;
- `op`: which kind of operation, with that op's attributes;
- `inputs`: the names of the nodes it reads, in order (the addition reads branch, then shortcut);
- `shape`: its output for the spec's example input, batch excluded: (C, H, W), or (F,) after the
  global pool;
- `scope`: where it sits (stem, a stage, a block, the head; main branch or shortcut);
- `loc`: the spec entry that produced it, for error messages.

Each op class carries its shape, check, cost and drawing rules (`ir/ops.py`); shapes are
inferred while elaborating and `check.check_graph` infers them again and compares, so a pass
that breaks the IR is caught. The list of built-in op kinds is derived from `NODE_TYPES`;
`OP_CLASSES` adds the ops of installed packages (`resnet_spec.ops` entry points, `plugins.py`).
"""

from __future__ import annotations

from resnet_spec.ir.findings import Finding
from resnet_spec.ir.graph import OMIT_DEFAULT, BlockInfo, Graph, StageInfo
from resnet_spec.ir.op import Op, Scope, Shape
from resnet_spec.ir.ops import (
    BUILTIN_OPS,
    ActNode,
    AddNode,
    BlurPoolNode,
    ChannelConvNode,
    ChannelSliceNode,
    ConcatNode,
    ConvNode,
    DropoutNode,
    DropPathNode,
    GateNode,
    GlobalPoolNode,
    InputNode,
    LinearNode,
    NormNode,
    PoolNode,
    RadixCombineNode,
    RadixSoftmaxNode,
    SqueezeNode,
    ZeroPadNode,
)
from resnet_spec.plugins import Registry

NODE_TYPES: tuple[type[Op], ...] = BUILTIN_OPS
"""Every built-in IR op class."""
OP_KINDS: tuple[str, ...] = tuple(t.op_kind() for t in NODE_TYPES)
"""The built-in op kinds, derived from `NODE_TYPES`."""
OP_CLASSES: Registry[type[Op]] = Registry(
    "resnet_spec.ops", {t.op_kind(): t for t in NODE_TYPES},
    lambda registration: registration.obj.op)
"""Op kind -> its class: the built-ins and the installed packages' ops. Every registry keyed
by op kind (the compiler's `BACKENDS`) covers these."""

__all__ = [
    "NODE_TYPES", "OMIT_DEFAULT", "OP_CLASSES", "OP_KINDS", "ActNode", "AddNode", "BlockInfo",
    "BlurPoolNode", "ChannelConvNode", "ChannelSliceNode", "ConcatNode", "ConvNode",
    "DropPathNode", "DropoutNode", "Finding", "GateNode", "GlobalPoolNode", "Graph",
    "InputNode", "LinearNode", "NormNode", "Op", "PoolNode", "RadixCombineNode",
    "RadixSoftmaxNode", "Scope", "Shape", "SqueezeNode", "StageInfo", "ZeroPadNode",
]
