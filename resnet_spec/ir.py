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
and compares, so a pass that breaks the IR is caught. What the checker needs beyond the shape rule
each op class declares itself (`takes_map`, `can_shrink`); the list of op kinds is derived from
`NODE_TYPES`, and every registry keyed by op kind (checks, costs, drawing, lowering, init) is
tested against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Annotated, Any, ClassVar, Literal, Union

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

    takes_map: ClassVar[bool] = True
    """Whether every input must be a C×H×W map (not a flat vector)."""
    can_shrink: ClassVar[bool] = False
    """Whether its output can be smaller than its input (so an input too small can empty it)."""

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
    # floor division, as PyTorch's: in ceil mode a window hanging over the edge still counts,
    # so a 2x2/2 ceil-mode pool of a 1x1 map gives 1x1, not nothing
    out = (span + (stride - 1 if ceil else 0)) // stride + 1
    # PyTorch drops a last window that would start inside the right padding.
    if ceil and (out - 1) * stride >= size + padding:
        out -= 1
    return max(out, 0)


class InputNode(_OpNode):
    op: Literal["input"] = "input"
    takes_map: ClassVar[bool] = False

    def infer(self, inputs: list[Shape]) -> Shape:
        return self.shape


class ConvNode(_OpNode):
    op: Literal["conv"] = "conv"
    can_shrink: ClassVar[bool] = True
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
    can_shrink: ClassVar[bool] = True
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
    can_shrink: ClassVar[bool] = True
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
    takes_map: ClassVar[bool] = False
    p: float

    def label(self) -> str:
        return f"dropout {self.p:g}"


class LinearNode(_OpNode):
    op: Literal["linear"] = "linear"
    takes_map: ClassVar[bool] = False
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


class SqueezeNode(_OpNode):
    """Global average over height and width keeping a 1×1 map: (C, H, W) -> (C, 1, 1), the
    squeeze of squeeze-and-excitation."""

    op: Literal["squeeze"] = "squeeze"

    def infer(self, inputs: list[Shape]) -> Shape:
        return (inputs[0][0], 1, 1)

    def label(self) -> str:
        return "squeeze (global avg, keep 1x1)"


class GateNode(_OpNode):
    """Excitation: the first input times the sigmoid of the second, a C×1×1 map broadcast over
    height and width. Its shape is the first input's."""

    op: Literal["gate"] = "gate"

    def label(self) -> str:
        return "x * sigmoid(gate)"


class DropPathNode(_OpNode):
    """Stochastic depth on a residual branch: in training, each sample's branch is zeroed with
    probability `p` and the survivors scaled by 1/(1-p); an identity in eval."""

    op: Literal["drop_path"] = "drop_path"
    p: float

    def label(self) -> str:
        return f"drop path {self.p:.3g}"


NODE_TYPES: tuple[type[_OpNode], ...] = (
    InputNode,
    ConvNode,
    NormNode,
    ActNode,
    PoolNode,
    GlobalPoolNode,
    ZeroPadNode,
    AddNode,
    DropoutNode,
    LinearNode,
    SqueezeNode,
    GateNode,
    DropPathNode,
)
"""Every IR op: the one list a new op is added to."""

Node = Annotated[Union[NODE_TYPES], Field(discriminator="op")]  # type: ignore[valid-type]  # noqa: UP007
OP_KINDS: tuple[str, ...] = tuple(t.model_fields["op"].default for t in NODE_TYPES)
"""The op kinds, derived from `NODE_TYPES`: every registry keyed by op kind covers these."""


OMIT_DEFAULT = {"omit_default": True}
"""Metadata of the info fields that `Graph.to_json` leaves out while they hold their default:
fields added with a variant, so that the JSON of a network without it stays as it was."""


@dataclass
class StageInfo:
    """A stem, a residual stage, the final norm of a pre-activation net, or the head: what
    diagrams and summaries fold nodes into."""

    name: str
    kind: Literal["stem", "stage", "final", "head"]
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
    dilation: int = field(default=1, metadata=OMIT_DEFAULT)
    """Dilation of the block's 3x3 convs (its first may keep the previous stage's)."""
    se: int = field(default=0, metadata=OMIT_DEFAULT)
    """Channels of the squeeze-and-excitation's reduction; 0 without one."""
    drop_path: float = field(default=0.0, metadata=OMIT_DEFAULT)
    """The stochastic-depth rate of this block's branch."""


class Graph:
    """A network as IR nodes in a networkx DiGraph, with its stages, blocks and outputs."""

    def __init__(self, name: str, description: str = "") -> None:
        self.name = name
        self.description = description
        self.nx: nx.DiGraph = nx.DiGraph()
        self.input: str = ""
        self.outputs: dict[str, str] = {}
        """Output name (`logits`, `features`, or `stem`, `stage2` ... of a backbone's
        `features`) -> node name. Every sink of the graph is one of these."""
        self.output_dict: bool = False
        """Whether the forward returns the outputs as a dict by name (a backbone's `features`)
        rather than its one output as a tensor."""
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

    def classifier(self) -> list[Any]:
        """The classifier: the linear node(s) of the head, empty for a network without one
        (`head: none`, `features`). What fine-tuning's `reinit_head` starts afresh."""
        return [n for n in self.nodes() if n.op == "linear" and n.scope.stage == "head"]

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
    for item in fields(info):
        key, value = item.name, getattr(info, item.name)
        if item.metadata.get("omit_default") and value == item.default:
            continue
        if isinstance(value, Loc):
            value = str(value)
        elif hasattr(value, "value"):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out
