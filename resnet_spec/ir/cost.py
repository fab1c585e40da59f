"""The static cost model: parameters, MACs, activations, strides and receptive fields from the IR.

No tensor and no torch: every figure follows from the node attributes and shapes that
elaboration wrote onto the IR, so a summary of a thousand-layer net takes milliseconds.

Conventions (docs/cost-model.md explains them):

- parameters: exact, the trainable tensors of `node.params()` (buffers excluded), so the total
  equals `sum(p.numel() for p in module.parameters())` of the compiled model;
- MACs: the multiply-accumulates of convolutions and linear layers only, for one image. This is
  the paper's Table 1 "FLOPs" and torchvision's "GFLOPS"; `torch.utils.flop_counter` reports
  twice this figure. Norms, activations, pools and additions count zero;
- activations: the elements of every node's output for one image (the input and views
  excluded), what a training step keeps for the backward pass if nothing is freed or fused;
- effective stride and receptive field, per node, of the input pixels one output element sees:
  `rf_out = rf_in + (k_eff - 1) * jump_in`, `jump_out = jump_in * stride`, with
  `k_eff = dilation * (k - 1) + 1`. An addition takes the largest over its inputs. A global pool
  passes its input's values on, so the head reports the last feature map's field rather than
  "the whole image".

Each op's rules (`macs`, `window`, `stores_output`) are on its class (`ir/ops.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from resnet_spec.ir import BlockInfo, Graph, Shape, StageInfo


@dataclass(frozen=True)
class NodeCost:
    """One IR node's costs and what its output sees of the input."""

    name: str
    op: str
    label: str
    output_shape: Shape
    params: int
    macs: int
    activations: int
    stride: int
    """Effective stride: input pixels between neighbouring output elements."""
    receptive_field: int
    """Side of the square of input pixels one output element depends on."""


@dataclass
class BlockCost:
    """A residual block's totals, and the stride and receptive field at its output."""

    name: str
    output_shape: Shape
    params: int
    macs: int
    activations: int
    stride: int
    receptive_field: int


@dataclass
class StageCost:
    """The stem, a residual stage or the head: totals and its output's stride and field."""

    name: str
    kind: str
    depth: int
    output_shape: Shape
    params: int
    macs: int
    activations: int
    stride: int
    receptive_field: int
    blocks: list[BlockCost] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OutputCost:
    """One output of the network: its name, shape and effective stride (None for a vector)."""

    name: str
    node: str
    shape: Shape
    stride: int | None


@dataclass
class GraphCost:
    """A whole network's costs: totals, per stage (with blocks) and per node."""

    name: str
    description: str
    input_shape: Shape
    params: int
    macs: int
    activations: int
    """Elements of every node's output for one image, the input excluded."""
    stages: list[StageCost]
    nodes: dict[str, NodeCost]
    outputs: list[OutputCost] = field(default_factory=list)
    """What the forward returns, in order: `logits`, or a backbone's maps."""

    @property
    def returns_maps(self) -> bool:
        """Whether the outputs are feature maps (a backbone), whose strides matter."""
        return any(len(o.shape) == 3 for o in self.outputs)


def analyze(graph: Graph) -> GraphCost:
    """Every node's, block's and stage's costs, and the totals, of an elaborated graph."""
    nodes: dict[str, NodeCost] = {}
    for node in graph.nodes():
        nodes[node.name] = _node_cost(node, [nodes[i] for i in node.inputs])
    blocks = {b.name: _block_cost(b, nodes) for b in graph.blocks}
    stages = [_stage_cost(s, nodes, blocks) for s in graph.stages]
    return GraphCost(
        name=graph.name,
        description=graph.description,
        input_shape=graph.input_shape,
        params=sum(n.params for n in nodes.values()),
        macs=sum(n.macs for n in nodes.values()),
        activations=sum(n.activations for n in nodes.values()),
        stages=stages,
        nodes=nodes,
        outputs=[_output(name, nodes[node]) for name, node in graph.outputs.items()],
    )


def _output(name: str, node: NodeCost) -> OutputCost:
    stride = node.stride if len(node.output_shape) == 3 else None
    return OutputCost(name, node.name, node.output_shape, stride)


def _node_cost(node: Any, inputs: list[NodeCost]) -> NodeCost:
    kernel, stride = node.window()
    # the input node starts the recursion: one pixel sees itself, neighbours are one apart
    jump = max((i.stride for i in inputs), default=1)
    field_in = max((i.receptive_field for i in inputs), default=1)
    return NodeCost(
        name=node.name,
        op=node.op,
        label=node.label(),
        output_shape=tuple(node.shape),
        params=node.param_count(),
        macs=node.macs(),
        activations=math.prod(node.shape) if node.stores_output else 0,
        stride=jump * stride,
        receptive_field=field_in + (kernel - 1) * jump,
    )


def _sums(names: list[str], nodes: dict[str, NodeCost]) -> tuple[int, int, int]:
    parts = [nodes[n] for n in names]
    return (sum(p.params for p in parts), sum(p.macs for p in parts),
            sum(p.activations for p in parts))


def _block_cost(block: BlockInfo, nodes: dict[str, NodeCost]) -> BlockCost:
    params, macs, activations = _sums(block.nodes, nodes)
    last = nodes[block.output]
    return BlockCost(block.name, tuple(block.out_shape), params, macs, activations, last.stride,
                     last.receptive_field)


def _stage_cost(stage: StageInfo, nodes: dict[str, NodeCost],
                blocks: dict[str, BlockCost]) -> StageCost:
    params, macs, activations = _sums(stage.nodes, nodes)
    last = nodes[stage.nodes[-1]]
    return StageCost(
        name=stage.name,
        kind=stage.kind,
        depth=stage.depth,
        output_shape=tuple(stage.out_shape),
        params=params,
        macs=macs,
        activations=activations,
        stride=last.stride,
        receptive_field=last.receptive_field,
        blocks=[blocks[b] for b in stage.blocks],
        nodes=list(stage.nodes),
    )


def activation_bytes(cost: GraphCost, *, batch: int = 1, dtype: str = "float32") -> int:
    """Bytes of all activations of a batch in a dtype (see `units.DTYPE_BYTES`)."""
    from resnet_spec.number_format import DTYPE_BYTES

    if dtype not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype {dtype!r}; one of {', '.join(DTYPE_BYTES)}")
    return cost.activations * batch * DTYPE_BYTES[dtype]


def to_json(cost: GraphCost, *, batch: int = 1, dtype: str = "float32",
            layers: bool = False) -> dict[str, Any]:
    """The `summary --json` object: totals, memory for `batch` and `dtype`, stages with their
    blocks, and with `layers` every node."""
    from resnet_spec.number_format import DTYPE_BYTES

    out: dict[str, Any] = {
        "name": cost.name,
        "description": cost.description,
        "input_shape": list(cost.input_shape),
        "params": cost.params,
        "macs": cost.macs,
        "activations": cost.activations,
        "memory": {
            "batch": batch,
            "dtype": dtype,
            "activation_bytes": activation_bytes(cost, batch=batch, dtype=dtype),
            "param_bytes": cost.params * DTYPE_BYTES[dtype],
        },
        "stages": [_stage_json(s) for s in cost.stages],
        "outputs": [{**vars(o), "shape": list(o.shape)} for o in cost.outputs],
    }
    if layers:
        out["layers"] = [_node_json(n) for n in cost.nodes.values()]
    return out


def _stage_json(stage: StageCost) -> dict[str, Any]:
    return {
        "name": stage.name,
        "kind": stage.kind,
        "depth": stage.depth,
        "output_shape": list(stage.output_shape),
        "params": stage.params,
        "macs": stage.macs,
        "activations": stage.activations,
        "stride": stage.stride,
        "receptive_field": stage.receptive_field,
        "blocks": [{**vars(b), "output_shape": list(b.output_shape)} for b in stage.blocks],
    }


def _node_json(node: NodeCost) -> dict[str, Any]:
    return {**vars(node), "output_shape": list(node.output_shape)}


def to_markdown(cost: GraphCost, *, batch: int = 1, dtype: str = "float32") -> str:
    """The `summary.md` of a build: a heading, a per-stage table and the totals."""
    from resnet_spec import number_format as units

    lines = [f"# {cost.name}", ""]
    if cost.description:
        lines += [cost.description, ""]
    lines += [
        f"Input {units.shape(cost.input_shape)}. MACs count the multiply-accumulates of "
        "convolutions and linear layers for one image (FlopCounterMode reports twice this).",
        "",
        "| stage | blocks | output | stride | receptive field | params | MACs | activations |",
        "|---|--:|---|--:|--:|--:|--:|--:|",
    ]
    for s in cost.stages:
        lines.append(
            f"| {s.name} | {s.depth or ''} | {units.shape(s.output_shape)} | {s.stride} | "
            f"{s.receptive_field} | {units.count(s.params)} | {units.count(s.macs)} | "
            f"{units.count(s.activations)} |")
    lines.append(f"| **total** | {sum(s.depth for s in cost.stages)} | | | | "
                 f"**{units.count(cost.params)}** | **{units.count(cost.macs)}** | "
                 f"**{units.count(cost.activations)}** |")
    lines += ["", *totals_lines(cost, batch=batch, dtype=dtype), ""]
    return "\n".join(lines)


def totals_lines(cost: GraphCost, *, batch: int, dtype: str) -> list[str]:
    from resnet_spec import number_format as units

    memory = units.size(activation_bytes(cost, batch=batch, dtype=dtype))
    maps = [f"{o.name} {units.shape(o.shape)} (stride {o.stride})" for o in cost.outputs]
    outputs = [f"- outputs: {', '.join(maps)}"] if cost.returns_maps else []
    return [
        f"- parameters: {units.exact(cost.params)} ({units.count(cost.params)})",
        f"- MACs per image: {units.exact(cost.macs)} ({units.count(cost.macs)})",
        f"- activations per image: {units.exact(cost.activations)} elements; "
        f"{memory} for a batch of {batch} in {dtype}",
        *outputs,
    ]
