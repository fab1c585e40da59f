"""The graph: IR nodes in a networkx DiGraph, with the stages, blocks and outputs they form."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

import networkx as nx

from resnet_spec.errors import Loc
from resnet_spec.ir.op import Shape
from resnet_spec.spec.schema import Shortcut

OMIT_DEFAULT = {"omit_default": True}
"""Metadata of the info fields (and `json_schema_extra` of the op attributes) that
`Graph.to_json` leaves out while they hold their default: fields added with a variant, so that
the JSON of a network without it stays as it was."""


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
    kind: str
    """The block kind's name (`elaboration.blocks.BLOCK_KINDS`)."""
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
    attention: str = field(default="", metadata=OMIT_DEFAULT)
    """What `block.attention` built, in a few words (`ECA k5`, `SE 128`); empty without it."""
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
        self.preprocess: Any = None
        """The spec's `preprocess` (mean, std, resize, crop), or None where it says none: what
        the compiled model reports to timm's data helpers (`pretrained_cfg`)."""

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
        """Every checkpoint key (parameters and buffers) with its shape, in the order the
        compiled module's `state_dict()` lists them: torch walks the module tree, so a key
        follows the first key of each container it sits in (Res2Net's `convs.1` comes before
        `bns.0`, though the nodes alternate)."""
        tree: dict[str, Any] = {}
        for node in self.nodes():
            for key, shape in (node.params() | node.buffers()).items():
                *path, leaf = key.split(".")
                level = tree
                for part in path:
                    level = level.setdefault(part, {})
                level[leaf] = shape
        out: dict[str, Shape] = {}

        def flatten(level: dict[str, Any], prefix: str) -> None:
            # a module's own tensors come before its children's, as in torch
            for name, value in level.items():
                if not isinstance(value, dict):
                    out[prefix + name] = value
            for name, value in level.items():
                if isinstance(value, dict):
                    flatten(value, f"{prefix}{name}.")

        flatten(tree, "")
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
            for key, spec in type(node).model_fields.items():
                if spec.json_schema_extra == OMIT_DEFAULT and data.get(key) == spec.default:
                    del data[key]
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
