"""The graph IR: typed op nodes in a networkx DiGraph, each knowing its shape rule and parameters.

Everything after loading reads this IR and never the spec: the checker, the cost model, the
renderer and the torch back end. A node is a pydantic model with

- `name`: unique; for nodes with parameters it is the module path of the compiled model
  (torchvision's names: `layer2.0.downsample.0`), so `params()` gives checkpoint keys;
- `op`: which kind of operation (the discriminator of `Op`), with that op's attributes;
- `inputs`: the names of the nodes it reads, in order (the addition reads branch, then shortcut);
- `shape`: its output for the spec's example input, batch excluded: (C, H, W), or (F,) after the
  global pool;
- `scope`: where it sits (stem, a stage, a block, the head; main branch or shortcut);
- `loc`: the spec entry that produced it, for error messages.

Shapes are inferred by each op's `infer` while elaborating; `check.check_graph` infers them again
and compares, so a pass that breaks the IR is caught.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from resnet_spec.errors import Loc
from resnet_spec.schema import Activation, BlockKind, GlobalPool, NormKind, Shortcut

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


class _OpNode(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    inputs: tuple[str, ...] = ()
    shape: Shape = ()
    scope: Scope
    loc: Loc | None = None

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

    def label(self) -> str:
        """A short description of the op and its attributes, for tables and diagrams."""
        return self.op  # type: ignore[attr-defined]


def _spatial(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool) -> int:
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    steps = -(-span // stride) if ceil else span // stride
    out = steps + 1
    # PyTorch drops a last window that would start inside the right padding.
    if ceil and (out - 1) * stride >= size + padding:
        out -= 1
    return out


class InputNode(_OpNode):
    op: Literal["input"] = "input"

    def infer(self, inputs: list[Shape]) -> Shape:
        return self.shape


class ConvNode(_OpNode):
    op: Literal["conv"] = "conv"
    in_channels: int
    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    bias: bool = False

    def infer(self, inputs: list[Shape]) -> Shape:
        _, h, w = inputs[0]
        size = (self.kernel, self.stride, self.padding, self.dilation, False)
        return (self.out_channels, _spatial(h, *size), _spatial(w, *size))

    def params(self) -> dict[str, Shape]:
        weight = (self.out_channels, self.in_channels // self.groups, self.kernel, self.kernel)
        out = {f"{self.name}.weight": weight}
        if self.bias:
            out[f"{self.name}.bias"] = (self.out_channels,)
        return out

    def label(self) -> str:
        text = f"conv {self.kernel}x{self.kernel}"
        if self.stride > 1:
            text += f" /{self.stride}"
        if self.groups > 1:
            text += f" g{self.groups}"
        if self.dilation > 1:
            text += f" d{self.dilation}"
        return f"{text}, {self.out_channels}"


class NormNode(_OpNode):
    op: Literal["norm"] = "norm"
    kind: NormKind
    channels: int
    eps: float = 1e-5
    momentum: float = 0.1
    groups: int = 32
    zero_init: bool = False
    """Initialize the scale at zero (the last norm of a branch with `zero_init_last_norm`)."""

    def params(self) -> dict[str, Shape]:
        return {f"{self.name}.weight": (self.channels,), f"{self.name}.bias": (self.channels,)}

    def buffers(self) -> dict[str, Shape]:
        if self.kind is not NormKind.batch:
            return {}
        return {
            f"{self.name}.running_mean": (self.channels,),
            f"{self.name}.running_var": (self.channels,),
            f"{self.name}.num_batches_tracked": (),
        }

    def label(self) -> str:
        groups = f" g{self.groups}" if self.kind is NormKind.group else ""
        return f"{self.kind.value}norm{groups}"


class ActNode(_OpNode):
    op: Literal["act"] = "act"
    kind: Activation

    def label(self) -> str:
        return self.kind.value


class PoolNode(_OpNode):
    """A windowed max or average pool (the stem's 3x3/2)."""

    op: Literal["pool"] = "pool"
    kind: Literal["max", "avg"]
    kernel: int
    stride: int
    padding: int = 0
    ceil_mode: bool = False
    count_include_pad: bool = True

    def infer(self, inputs: list[Shape]) -> Shape:
        c, h, w = inputs[0]
        size = (self.kernel, self.stride, self.padding, 1, self.ceil_mode)
        return (c, _spatial(h, *size), _spatial(w, *size))

    def label(self) -> str:
        return f"{self.kind}pool {self.kernel}x{self.kernel} /{self.stride}"


class GlobalPoolNode(_OpNode):
    """Global pooling over height and width, then flattening: (C, H, W) -> (C,)."""

    op: Literal["global_pool"] = "global_pool"
    kind: GlobalPool

    def infer(self, inputs: list[Shape]) -> Shape:
        return (inputs[0][0],)

    def label(self) -> str:
        return f"global {self.kind.value}pool"


class ZeroPadNode(_OpNode):
    """The paper's option A shortcut: subsample by `stride`, append zero channels."""

    op: Literal["zero_pad"] = "zero_pad"
    stride: int
    in_channels: int
    out_channels: int

    def infer(self, inputs: list[Shape]) -> Shape:
        _, h, w = inputs[0]
        return (self.out_channels, -(-h // self.stride), -(-w // self.stride))

    def label(self) -> str:
        return f"subsample /{self.stride}, zero-pad to {self.out_channels}"


class AddNode(_OpNode):
    """The residual addition: branch + shortcut. Its shape is the first input's."""

    op: Literal["add"] = "add"


class DropoutNode(_OpNode):
    op: Literal["dropout"] = "dropout"
    p: float

    def label(self) -> str:
        return f"dropout {self.p:g}"


class LinearNode(_OpNode):
    op: Literal["linear"] = "linear"
    in_features: int
    out_features: int
    bias: bool = True

    def infer(self, inputs: list[Shape]) -> Shape:
        return (self.out_features,)

    def params(self) -> dict[str, Shape]:
        out = {f"{self.name}.weight": (self.out_features, self.in_features)}
        if self.bias:
            out[f"{self.name}.bias"] = (self.out_features,)
        return out

    def label(self) -> str:
        return f"linear {self.in_features}->{self.out_features}"


Node = Annotated[
    InputNode
    | ConvNode
    | NormNode
    | ActNode
    | PoolNode
    | GlobalPoolNode
    | ZeroPadNode
    | AddNode
    | DropoutNode
    | LinearNode,
    Field(discriminator="op"),
]
OP_KINDS: tuple[str, ...] = (
    "input", "conv", "norm", "act", "pool", "global_pool", "zero_pad", "add", "dropout", "linear"
)


@dataclass
class StageInfo:
    """A stem, a residual stage or the head: what diagrams and summaries fold nodes into."""

    name: str
    kind: Literal["stem", "stage", "head"]
    loc: Loc | None
    nodes: list[str] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    depth: int = 0
    width: int = 0
    stride: int = 1
    dilation: int = 1
    in_shape: Shape = ()
    out_shape: Shape = ()


@dataclass
class BlockInfo:
    """One residual block: its settings as elaborated and the nodes it produced."""

    name: str
    stage: str
    index: int
    kind: BlockKind
    policy: Shortcut
    """The shortcut policy in force for this block (from the spec)."""
    shortcut: Literal["identity", "zero_pad", "projection", "avg_down", "none"]
    """What the policy produced here: e.g. `projection` keeps `identity` where no shape changes."""
    stride: int
    width: int
    inner: int
    groups: int
    in_shape: Shape
    out_shape: Shape
    loc: Loc | None
    nodes: list[str] = field(default_factory=list)
    input: str = ""
    output: str = ""


class Graph:
    """A network as IR nodes in a networkx DiGraph, with its stages, blocks and outputs."""

    def __init__(self, name: str, description: str = "") -> None:
        self.name = name
        self.description = description
        self.nx: nx.DiGraph = nx.DiGraph()
        self.input: str = ""
        self.outputs: dict[str, str] = {}
        """Output name (`logits`, or `stage2` ... for a backbone) -> node name."""
        self.stages: list[StageInfo] = []
        self.blocks: list[BlockInfo] = []
        self.warnings: list[str] = []
        """Messages of the static checks that do not make the spec invalid."""

    def add(self, node: Any) -> str:
        """Insert a node (its inputs must exist already) and return its name."""
        if node.name in self.nx:
            raise ValueError(f"IR node {node.name!r} added twice")
        self.nx.add_node(node.name, node=node)
        for i, source in enumerate(node.inputs):
            self.nx.add_edge(source, node.name, port=i)
        if node.op == "input":
            self.input = node.name
        return node.name

    def replace(self, node: Any) -> None:
        """Swap in a new version of a node with the same name and inputs (for passes)."""
        old = self.node(node.name)
        if old.inputs != node.inputs:
            raise ValueError(f"replacing {node.name!r} would change its inputs")
        self.nx.nodes[node.name]["node"] = node

    def node(self, name: str) -> Any:
        return self.nx.nodes[name]["node"]

    def nodes(self) -> list[Any]:
        """Every node, producers before consumers (insertion order is topological)."""
        return [data["node"] for _, data in self.nx.nodes(data=True)]

    def users(self, name: str) -> list[str]:
        return list(self.nx.successors(name))

    def stage(self, name: str) -> StageInfo:
        return next(s for s in self.stages if s.name == name)

    def block(self, name: str) -> BlockInfo:
        return next(b for b in self.blocks if b.name == name)

    @property
    def input_shape(self) -> Shape:
        return self.node(self.input).shape

    def param_count(self) -> int:
        return sum(node.param_count() for node in self.nodes())

    def state_shapes(self) -> dict[str, Shape]:
        """Every checkpoint key (parameters and buffers) with its shape."""
        out: dict[str, Shape] = {}
        for node in self.nodes():
            out.update(node.params())
            out.update(node.buffers())
        return out

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dump: nodes with op, attributes, parameters, shapes; edges; groups."""
        nodes = []
        for node in self.nodes():
            data = node.model_dump(mode="json", exclude={"loc", "scope", "inputs", "name"})
            nodes.append(
                {
                    "name": node.name,
                    "op": data.pop("op"),
                    "inputs": list(node.inputs),
                    "shape": list(node.shape),
                    "scope": node.scope.model_dump(exclude_none=True),
                    "attrs": {k: v for k, v in data.items() if k != "shape"},
                    "params": {k: list(v) for k, v in node.params().items()},
                    "buffers": {k: list(v) for k, v in node.buffers().items()},
                    "loc": str(node.loc) if node.loc else None,
                }
            )
        return {
            "name": self.name,
            "description": self.description,
            "input": self.input,
            "outputs": self.outputs,
            "nodes": nodes,
            "edges": [[u, v] for u, v in self.nx.edges()],
            "stages": [_info_json(s) for s in self.stages],
            "blocks": [_info_json(b) for b in self.blocks],
        }


def _info_json(info: StageInfo | BlockInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in vars(info).items():
        if isinstance(value, Loc):
            value = str(value)
        elif hasattr(value, "value"):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out
