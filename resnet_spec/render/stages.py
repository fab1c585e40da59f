"""The `stages` level: input, stem, one box per residual stage, head, outputs."""

from __future__ import annotations

import graphviz

from resnet_spec.elaboration.blocks import BLOCK_KINDS
from resnet_spec.ir import BlockInfo, Graph, StageInfo
from resnet_spec.render import common, ops, palette


def _params(graph: Graph, names: list[str]) -> int:
    return sum(graph.node(name).param_count() for name in names)


def _stage_label(graph: Graph, stage: StageInfo) -> str:
    blocks = [graph.block(name) for name in stage.blocks]
    kind = blocks[0].kind if blocks else "block"
    out = stage.out_shape[0]
    widths = f"width {stage.width}" + (f" → {out}" if out != stage.width else "") + (
        f" · stride {stage.stride}" if stage.stride > 1 else "") + (
        f" · dilation {stage.dilation}" if stage.dilation > 1 else "")
    shortcuts = list(dict.fromkeys(b.shortcut.replace("_", "-") for b in blocks))
    lines = [widths, f"shortcut: {', '.join(shortcuts)}", _drop_path(blocks),
             f"out {common.shape_text(stage.out_shape)}"]
    note = common.params_text(_params(graph, stage.nodes))
    kinds = {b.attention.split()[0] if b.attention else "SE" for b in blocks
             if b.attention or b.se}
    se = "".join(f" + {k}" for k in sorted(kinds))
    return common.box_label(f"{stage.name}: {stage.depth} × {kind}{se}", lines, note)


def _drop_path(blocks: list[BlockInfo]) -> str:
    """The stage's stochastic-depth rates, first to last block; empty without any."""
    rates = [b.drop_path for b in blocks]
    if not any(rates):
        return ""
    return f"drop path {rates[0]:.3g} → {rates[-1]:.3g}"


def brief_box(canvas: graphviz.Digraph, graph: Graph, stage: StageInfo,
              emphasized: bool | str = False) -> None:
    """The stem or the head as one box naming its ops in order (not its norms or activations)."""
    nodes = [graph.node(name) for name in stage.nodes]
    # the final norm of a pre-activation net has nothing but a norm and an activation: all shown
    named = [ops.op_text(n) for n in nodes] if stage.kind == "final" else ops.brief(nodes)
    lines = [*named, f"out {common.shape_text(stage.out_shape)}"]
    note = common.params_text(_params(graph, stage.nodes))
    family = "conv" if stage.kind == "stem" else "head"
    canvas.node(stage.name, common.box_label(stage.name, lines, note), width="2.6",
                group="main", **palette.box_style(family, emphasized))


def _stage_box(canvas: graphviz.Digraph, graph: Graph, stage: StageInfo) -> None:
    kind = BLOCK_KINDS.get(graph.block(stage.blocks[0]).kind) if stage.blocks else None
    canvas.node(stage.name, _stage_label(graph, stage), width="2.6",
                **palette.family_style(kind.family if kind else "other"))


def draw(graph: Graph, canvas: graphviz.Digraph, collapse: bool) -> None:
    """Add the stage-level picture to `canvas` (`collapse` changes nothing at this level)."""
    common.io_node(canvas, graph.input, "input", graph.input_shape)
    previous, shape = graph.input, graph.input_shape
    for stage in graph.stages:
        (_stage_box if stage.kind == "stage" else brief_box)(canvas, graph, stage)
        canvas.edge(previous, stage.name, label=common.edge_shape(shape))
        previous, shape = stage.name, stage.out_shape
    holder = common.stage_of(graph)
    common.outputs(canvas, graph, lambda node: holder[node])
