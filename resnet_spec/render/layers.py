"""The `layers` level: every IR op, inside block clusters inside stage clusters.

Collapsed, a run of identical blocks draws the ops of its first block once, in a cluster marked
×N; edges that come from a hidden block are drawn from the matching op of the shown one.
"""

from __future__ import annotations

from typing import Any

import graphviz

from resnet_spec import number_format as units
from resnet_spec.ir import BlockInfo, Graph, StageInfo
from resnet_spec.render import common, ops, palette

SPINE_WEIGHT = "8"
BOX_WIDTH = 2.0
"""inches: every op box the same width, whatever its text."""


def _aliases(runs: list[common.Run]) -> dict[str, str]:
    """Each op of a hidden block -> the same op of its run's first block."""
    alias: dict[str, str] = {}
    for run in runs:
        for block in run.blocks[1:]:
            alias.update(zip(block.nodes, run.first.nodes, strict=True))
    return alias


def _group(node: Any) -> dict[str, str]:
    """Main-path ops share a dot `group`, which keeps the path between them straight."""
    return {} if node.scope.branch == "shortcut" else {"group": "main"}


def _op_node(canvas: graphviz.Digraph, node: Any) -> None:
    if node.op == "add":
        canvas.node(node.name, "+", shape="circle", width="0.32", fixedsize="true",
                    fontsize="14", **_group(node), **ops.ADD_STYLE)
        return
    params = node.param_count()
    note = common.params_text(params) if params else ""
    canvas.node(node.name, common.box_label(ops.op_text(node), (), note), width=str(BOX_WIDTH),
                **_group(node), **ops.style(node))


def _stage_label(stage: StageInfo) -> str:
    if stage.kind != "stage":
        return stage.name
    return f"{stage.name} · {units.many(stage.depth, 'block')}"


def _run_label(run: common.Run) -> str:
    if run.count == 1:
        return run.first.name
    return f"{run.first.name} – {run.blocks[-1].name.rsplit('.', 1)[-1]}  ×{run.count}"


def _spacer(graph: Graph, runs: list[common.Run], vertical: bool) -> float:
    """One spacer width for every cluster, clearing the widest label (top-to-bottom only)."""
    if not vertical:
        return 0.0
    margin, half = common.CLUSTER_MARGIN, BOX_WIDTH / 2
    outer = float(palette.CLUSTER_ATTRS["fontsize"])
    inner = float(palette.INNER_CLUSTER_ATTRS["fontsize"])
    labels = [(_run_label(run), inner, margin + half) for run in runs]
    # a stage's path runs inside its first block's cluster: two borders in
    labels += [(_stage_label(s), outer, margin * (2 if s.kind == "stage" else 1) + half)
               for s in graph.stages]
    return common.spacer_width(labels)


def _cluster(canvas: graphviz.Digraph, graph: Graph, name: str, label: str,
             nodes: list[str], attrs: dict[str, str], spacer: float) -> None:
    with canvas.subgraph(name=f"cluster_{name}") as cluster:
        cluster.attr(label=label, **attrs)
        for node_name in nodes:
            _op_node(cluster, graph.node(node_name))
        common.add_spacer(cluster, name, nodes[0], spacer)


def _stage(canvas: graphviz.Digraph, graph: Graph, stage: StageInfo,
           runs: list[common.Run], spacer: float) -> None:
    if stage.kind != "stage":
        _cluster(canvas, graph, stage.name, stage.name, stage.nodes, palette.CLUSTER_ATTRS,
                 spacer)
        return
    with canvas.subgraph(name=f"cluster_{stage.name}") as cluster:
        cluster.attr(label=_stage_label(stage), **palette.CLUSTER_ATTRS)
        for run in runs:
            _cluster(cluster, graph, run.first.name, _run_label(run), run.first.nodes,
                     palette.INNER_CLUSTER_ATTRS, spacer)


def _edge_style(node: Any, port: int, blocks: dict[str, BlockInfo]) -> dict[str, str]:
    """Shortcut styling for edges on a shortcut path; the spine is weighted straight."""
    on_shortcut = node.scope.branch == "shortcut" or (node.op == "add" and port == 1)
    if not on_shortcut or node.scope.block not in blocks:
        return {"weight": SPINE_WEIGHT}
    return dict(palette.SHORTCUT_STYLES[blocks[node.scope.block].shortcut][1])


def _shape_label(graph: Graph, source: Any) -> str:
    """The shape, on the edges out of ops that make a new one (the input, convs, pools, ...).

    Norms, activations and additions pass their input's shape on: labelling their edges too
    would print the same shape five times a block."""
    if source.inputs and graph.node(source.inputs[0]).shape == source.shape:
        return ""
    return common.edge_shape(source.shape)


def _edges(canvas: graphviz.Digraph, graph: Graph, drawn: list[str],
           alias: dict[str, str]) -> None:
    blocks = {b.name: b for b in graph.blocks}
    for name in drawn:
        node = graph.node(name)
        for port, source in enumerate(node.inputs):
            source = alias.get(source, source)
            canvas.edge(source, name, label=_shape_label(graph, graph.node(source)),
                        **_edge_style(node, port, blocks))


def draw(graph: Graph, canvas: graphviz.Digraph, collapse: bool) -> None:
    """Add the op-level picture to `canvas`."""
    runs = common.block_runs(graph, collapse)
    alias = _aliases(runs)
    common.io_node(canvas, graph.input, "input", graph.input_shape)
    spacer = _spacer(graph, runs, common.is_vertical(canvas))
    for stage in graph.stages:
        _stage(canvas, graph, stage, [r for r in runs if r.first.stage == stage.name], spacer)
    drawn = [n.name for n in graph.nodes() if n.name not in alias]
    _edges(canvas, graph, drawn, alias)
    common.outputs(canvas, graph, lambda name: alias.get(name, name))
    common.legend(canvas, common.shortcut_kinds(runs), bare=common.bare_shortcuts(graph, runs))
