"""The `blocks` level: one box per block (or per run of identical blocks), its addition as a
small ⊕, and the shortcut as its own edge into that ⊕ beside the box, styled by kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

import graphviz

from resnet_spec import number_format as units
from resnet_spec.elaboration.blocks import BLOCK_KINDS
from resnet_spec.ir import BlockInfo, Graph, StageInfo
from resnet_spec.render import common, ops, palette
from resnet_spec.render.stages import brief_box

SPINE_WEIGHT = "8"
"""Pulls the main path straight so that shortcuts bow around it rather than cross it."""
BOX_WIDTH = 3.2
"""inches: every block box the same width, whatever its text."""


def block_params(graph: Graph, block: BlockInfo) -> int:
    return sum(graph.node(name).param_count() for name in block.nodes)


def _run_lines(run: common.Run) -> list[str]:
    b = run.first
    kind = b.kind + (f" · groups {b.groups}" if b.groups > 1 else "")
    if b.attention:
        kind += f" · {b.attention}"
    elif b.se:
        kind += f" · SE {b.se}"
    widths = f"width {b.width}"
    if b.inner != b.width:
        widths += f" · inner {b.inner}"
    widths += f" · out {b.out_shape[0]}" + (f" · stride {b.stride}" if b.stride > 1 else "")
    if b.dilation > 1:
        widths += f" · dilation {b.dilation}"
    return [kind, widths]


def _run_note(graph: Graph, run: common.Run) -> str:
    each = block_params(graph, run.first)
    if run.count == 1:
        return common.params_text(each)
    return f"{common.params_text(each * run.count)} ({run.count} × {units.count(each)})"


def shortcut_text(graph: Graph, block: BlockInfo) -> str:
    """What the shortcut computes, for its edge: empty for an identity."""
    nodes = [graph.node(n) for n in block.nodes if graph.node(n).scope.branch == "shortcut"]
    return " + ".join(ops.brief(nodes))


def _draw_run(cluster: graphviz.Digraph, canvas: graphviz.Digraph, graph: Graph,
              run: common.Run, source: str, emphasize: Mapping[str, bool | str]) -> str:
    """Draw one run fed from `source`; return the node its output leaves from.

    Its nodes go into the stage's `cluster`, its edges into the root `canvas`: DOT makes a node
    named in an edge inside a cluster a member of it, which would pull the stem into layer1."""
    b = run.first
    header = run.title + (f"  ×{run.count}" if run.count > 1 else "")
    extra = {"peripheries": "2"} if run.count > 1 else {}
    family = BLOCK_KINDS[b.kind].family
    cluster.node(b.name, common.box_label(header, _run_lines(run), _run_note(graph, run)),
                 width=str(BOX_WIDTH), group="main",
                 **palette.box_style(family, emphasize.get(b.name, False)), **extra)
    canvas.edge(source, b.name, label=common.edge_shape(b.in_shape), weight=SPINE_WEIGHT)
    if b.shortcut == "none":
        return b.name
    add = f"{b.name}.add"
    cluster.node(add, "+", shape="circle", width="0.32", fixedsize="true", fontsize="14",
                 group="main", **ops.ADD_STYLE)
    canvas.edge(b.name, add, weight=SPINE_WEIGHT)
    _, style = palette.SHORTCUT_STYLES[b.shortcut]
    canvas.edge(source, add, label=shortcut_text(graph, b), **style)
    return add


def _stage_label(stage: StageInfo) -> str:
    return f"{stage.name} · {units.many(stage.depth, 'block')}"


def _spacer(graph: Graph, vertical: bool) -> float:
    """One spacer width for every stage cluster, clearing the widest label (top to bottom)."""
    if not vertical:
        return 0.0
    points = float(palette.CLUSTER_ATTRS["fontsize"])
    offset = common.CLUSTER_MARGIN + BOX_WIDTH / 2
    return common.spacer_width((_stage_label(s), points, offset)
                               for s in graph.stages if s.kind == "stage")


def _draw_stage(canvas: graphviz.Digraph, graph: Graph, stage: StageInfo,
                runs: list[common.Run], source: str, spacer: float,
                drawn: dict[str, str], emphasize: Mapping[str, bool | str]) -> str:
    """Draw a stage's runs; record in `drawn` the node each block's output leaves from."""
    with canvas.subgraph(name=f"cluster_{stage.name}") as cluster:
        cluster.attr(label=_stage_label(stage), **palette.CLUSTER_ATTRS)
        for run in runs:
            source = _draw_run(cluster, canvas, graph, run, source, emphasize)
            drawn.update((block.output, source) for block in run.blocks)
        common.add_spacer(cluster, stage.name, runs[0].first.name, spacer)
    return source


def draw(graph: Graph, canvas: graphviz.Digraph, collapse: bool,
         emphasize: Set[str] | Mapping[str, str] = frozenset(),
         emphasis: str | Sequence[tuple[str, str]] = "") -> None:
    """Add the block-level picture to `canvas`; the blocks, stem, final norm or head named in
    `emphasize` get a thick red border, which the legend explains as `emphasis`. Given as a
    mapping, `emphasize` names each box's `palette.MARKS` kind, and `emphasis` lists the
    legend's (words, kind) pairs."""
    marks: dict[str, bool | str] = (dict(emphasize) if isinstance(emphasize, Mapping)
                                    else dict.fromkeys(emphasize, True))
    runs = common.block_runs(graph, collapse, frozenset(marks))
    common.io_node(canvas, graph.input, "input", graph.input_shape)
    source, shape = graph.input, graph.input_shape
    spacer = _spacer(graph, common.is_vertical(canvas))
    drawn = common.stage_of(graph)
    for stage in graph.stages:
        if stage.kind == "stage":
            mine = [run for run in runs if run.first.stage == stage.name]
            source = _draw_stage(canvas, graph, stage, mine, source, spacer, drawn, marks)
        else:
            brief_box(canvas, graph, stage, marks.get(stage.name, False))
            canvas.edge(source, stage.name, label=common.edge_shape(shape), weight=SPINE_WEIGHT)
            source = stage.name
        shape = stage.out_shape
    common.outputs(canvas, graph, lambda node: drawn[node])
    common.legend(canvas, common.shortcut_kinds(runs), emphasis if marks else "",
                  common.bare_shortcuts(graph, runs))
